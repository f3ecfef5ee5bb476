procedure A is   



begin
   null;  
end A;
