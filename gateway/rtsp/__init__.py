"""RTSP 1.0 client (RFC 2326): a sans-IO core and a thin asyncio shell.

Written by hand because no maintained Python RTSP client is sans-IO and asyncio-native;
IP cameras join conferences through it (issue 12).
"""
