"""fs1.distill"""
