"""fs1.data"""
