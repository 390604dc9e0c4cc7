"""fs1.kg"""
