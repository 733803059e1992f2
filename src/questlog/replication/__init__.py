"""questlog.replication"""
