procedure B is
begin
   null;
end B;
