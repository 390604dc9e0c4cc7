"""fs1.train"""
