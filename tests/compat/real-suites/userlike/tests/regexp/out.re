build [0-9]+ done
