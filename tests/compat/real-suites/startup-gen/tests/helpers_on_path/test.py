import testsuite_support
print("helpers importable")
