procedure D is null;
