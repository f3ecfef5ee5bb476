print("nothing to compare with")
