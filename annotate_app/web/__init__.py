"""The screen: the Streamlit pages, the comparison player and the server that serves them.

Fed by the annotation domain (``annotate_app.assign``, ``submit``, ``drafts``, ...); the domain never
imports from here.
"""
