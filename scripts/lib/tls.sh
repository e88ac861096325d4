# make_test_pki DIR: a throwaway PKI for the TLS end-to-end suites, made with openssl at test
# time (nothing secret is committed):
#   ca.crt / ca.key          the CA both servers' and the client's certificates are signed by
#   server.crt / server.key  valid for localhost and 127.0.0.1
#   local.crt / local.key    valid for localhost only (a client using 127.0.0.1 sees a name
#                            mismatch)
#   client.crt / client.key  a client certificate (mTLS)
#   client-v1.crt            the same client's key in an X.509 v1 certificate (no extensions)
#   other-ca.crt             a CA that signed none of them (a client trusting it alone sees an
#                            unknown issuer)
make_test_pki() {
  local dir=$1 name
  (
    cd "$dir"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=godtrace-test-ca \
      -keyout ca.key -out ca.crt 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=godtrace-other-ca \
      -keyout other-ca.key -out other-ca.crt 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >server.ext
    printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' >local.ext
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    for name in server local client; do
      openssl req -newkey rsa:2048 -nodes -subj "/CN=$name" -keyout "$name.key" \
        -out "$name.csr" 2>/dev/null
      openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
        -extfile "$name.ext" -out "$name.crt" 2>/dev/null
    done
    openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
      -out client-v1.crt 2>/dev/null
    rm -f ./*.csr ./*.ext ca.srl other-ca.key
  )
}
