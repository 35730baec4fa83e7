"""formlang"""
