"""fs1.scoring"""
