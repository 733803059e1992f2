"""questlog.http"""
