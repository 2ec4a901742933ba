"""A small web UI: one static page that reads the API from the browser.

The page holds no data itself (the API authorises every call), so serving it is public; the
browser sends the API key the user enters (kept in localStorage) or nothing in local mode.
"""
