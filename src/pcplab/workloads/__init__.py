"""pcplab.workloads"""
