"""pcplab.check"""
