# The hello app for Gunicorn: the same response as ../hello.js, as a trivial WSGI callable.
def app(environ, start_response):
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '6')])
    return [b'hello\n']
