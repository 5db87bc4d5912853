"""pcplab.store"""
