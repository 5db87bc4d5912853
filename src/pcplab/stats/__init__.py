"""pcplab.stats"""
