"""questlog.game"""
