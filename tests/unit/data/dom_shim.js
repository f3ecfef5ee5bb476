// A DOM just big enough for the report's script: elements are plain objects.
function Element(tag) {
  this.tagName = tag; this.children = []; this.className = ""; this.textContent = ""; this.style = {};
  this.attributes = {}; this.title = ""; this.value = ""; this.parentNode = null; this.hidden = false;
  var self = this;
  this.classList = {
    add: function (c) { self.className += " " + c; }, remove: function () {}, toggle: function () {},
    contains: function (c) { return (" " + self.className + " ").indexOf(" " + c + " ") >= 0; },
  };
}
Element.prototype.appendChild = function (c) {
  if (c.fragment) { var self = this; c.children.forEach(function (x) { self.appendChild(x); }); return c; }
  c.parentNode = this; this.children.push(c); return c;
};
Element.prototype.insertBefore = function (c) { return this.appendChild(c); };
Element.prototype.removeChild = function (c) { this.children = this.children.filter(function (x) { return x !== c; }); return c; };
Element.prototype.remove = function () { if (this.parentNode) { this.parentNode.removeChild(this); } };
Element.prototype.setAttribute = function (k, v) { this.attributes[k] = v; };
Element.prototype.getAttribute = function (k) { return this.attributes[k]; };
Element.prototype.addEventListener = function () {};
Element.prototype.querySelector = function () { return new Element("div"); };
Element.prototype.querySelectorAll = function () { return []; };
var byId = {};
global.document = {
  getElementById: function (id) {
    if (!byId[id]) { byId[id] = new Element("div"); byId[id].id = id; }
    if (id === "report-data") { byId[id].textContent = require("fs").readFileSync(process.argv[2], "utf8"); }
    return byId[id];
  },
  createElement: function (tag) { return new Element(tag); },
  createDocumentFragment: function () { var f = new Element("#fragment"); f.fragment = true; return f; },
  querySelector: function () { return new Element("div"); },
  querySelectorAll: function () { return []; },
};
global.window = global;
require(process.argv[3]);
function all(node, cls, out) {
  if ((" " + node.className + " ").indexOf(" " + cls + " ") >= 0) { out.push(node); }
  node.children.forEach(function (c) { all(c, cls, out); });
  return out;
}
var timeline = byId["timeline"];
console.log(JSON.stringify({
  lanes: all(timeline, "lane", []).map(function (l) { return l.children[0].textContent; }),
  bars: all(timeline, "frag", []).map(function (b) { return b.title; }),
}));
