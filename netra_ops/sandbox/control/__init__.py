"""The sandbox's control: the platform process that serves the routers, the Google API
emulation and the `/_sandbox` admin API, and what drives it from outside (the supervisor's
up, status and down; scenarios; pause; throwaway environments).
"""

__all__: list[str] = []
