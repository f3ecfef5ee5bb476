procedure C is begin null; end C;
