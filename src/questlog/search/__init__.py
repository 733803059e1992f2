"""questlog.search"""
