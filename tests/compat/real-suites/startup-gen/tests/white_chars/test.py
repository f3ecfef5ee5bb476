print("  hello  ")
print()
print("world\t")
