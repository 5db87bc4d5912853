"""pcplab.report"""
