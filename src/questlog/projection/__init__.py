"""questlog.projection"""
