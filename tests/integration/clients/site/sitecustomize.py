# sitecustomize.py - put on PYTHONPATH by the integration tests only.
#
# Virtual-hosted S3 names ("bucket.localhost") do not resolve through this machine's
# resolver, but every "*.localhost" name is loopback by definition (RFC 6761). This maps
# them to 127.0.0.1 inside the Python clients (awscli, s3cmd, boto3) so a test can use
# virtual-hosted style without editing /etc/hosts. Any other name resolves as usual, and
# nothing here can send traffic off the machine.
import socket

_orig_getaddrinfo = socket.getaddrinfo


def _lota_test_getaddrinfo(host, *args, **kwargs):
    name = host.decode() if isinstance(host, bytes) else host
    if isinstance(name, str) and name.lower().rstrip(".").endswith(".localhost"):
        host = "127.0.0.1"
    return _orig_getaddrinfo(host, *args, **kwargs)


socket.getaddrinfo = _lota_test_getaddrinfo
