"""pcplab.machines"""
