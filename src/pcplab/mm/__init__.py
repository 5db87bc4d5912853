"""pcplab.mm"""
