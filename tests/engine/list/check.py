import os

print("results directory created:", os.path.exists("results"))
