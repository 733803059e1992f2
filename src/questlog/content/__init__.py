"""questlog.content"""
