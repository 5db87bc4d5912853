"""pcplab.sim"""
