"""fs1.scaling"""
