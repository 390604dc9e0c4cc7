"""fs1.report"""
