import os
print("triplet set" if os.environ.get("target-triplet") else "no triplet")
