"""pcplab.designs"""
