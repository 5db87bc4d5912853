"""pcplab.kernel"""
