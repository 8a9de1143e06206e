/*
 * hubkey-cloud certificate work, all with OpenSSL: key and certificate
 * generation for the local PKI (server CA, server certificate, the
 * cloud-side issuing CA), thumbprints, chain walking for enrollment groups,
 * CSR issuance, and the hashed CA directory mosquitto's TLS layer trusts.
 *
 * Ownership: every X509 / EVP_PKEY returned is owned by the caller
 * (X509_free / EVP_PKEY_free); heap strings are released with free().
 */
#ifndef HKC_PKI_H
#define HKC_PKI_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* New keys: EC on the named curve (NID_X9_62_prime256v1, NID_secp384r1) or RSA. */
EVP_PKEY *hkc_pki_key_ec(int curve_nid);
EVP_PKEY *hkc_pki_key_rsa(int bits);

struct hkc_cert_spec {
    const char *cn;               /* subject CN (also O=hubkey-cloud is not added) */
    EVP_PKEY *key;                /* the subject's key (public part is used) */
    X509 *issuer;                 /* NULL: self-signed with key */
    EVP_PKEY *issuer_key;         /* signing key when issuer is set */
    bool ca;                      /* basicConstraints CA:TRUE and keyCertSign */
    int pathlen;                  /* for CA; -1 = no limit */
    const char *const *dns;       /* NULL-terminated SAN DNS names, or NULL */
    const char *const *ips;       /* NULL-terminated SAN IP addresses, or NULL */
    int days;                     /* validity from now-1h */
    bool server;                  /* extendedKeyUsage serverAuth (else clientAuth for leaves) */
};
X509 *hkc_pki_cert(const struct hkc_cert_spec *spec);

/* PEM I/O. Files are written with mode 0644 (certificates) or 0600 (keys). */
bool hkc_pki_write_cert(const char *path, X509 *const *certs, size_t n);
bool hkc_pki_write_key(const char *path, EVP_PKEY *key);
X509 *hkc_pki_read_cert(const char *path);
EVP_PKEY *hkc_pki_read_key(const char *path);
/* All certificates of a PEM file or string, in order; *out_n gets the count. */
X509 **hkc_pki_read_certs(const char *path, size_t *out_n);
X509 **hkc_pki_parse_certs(const char *pem, size_t *out_n);
void hkc_pki_free_certs(X509 **certs, size_t n);
char *hkc_pki_to_pem(X509 *cert);
X509 *hkc_pki_from_pem(const char *pem);

/* Subject CN (heap) or NULL. */
char *hkc_pki_cn(X509 *cert);
/* Upper-case hex SHA-1 (40 chars) and SHA-256 (64 chars) of the DER certificate. */
void hkc_pki_thumbprints(X509 *cert, char sha1[41], char sha256[65]);
/* One-line subject, e.g. "CN=Example Root". Heap. */
char *hkc_pki_subject(X509 *cert);

/* Walks issuers upward from leaf through cas (n certificates): out receives
 * indexes into cas, nearest issuer first; returns how many were found (the
 * walk stops at a self-signed certificate, a missing issuer, or max). */
size_t hkc_pki_ancestry(X509 *leaf, X509 *const *cas, size_t n, size_t *out, size_t max);

/* Issues a client certificate from a Base64-free DER PKCS#10 CSR. The CSR
 * signature must verify, its CN must equal expected_cn, its key must be EC
 * P-256 or P-384. On failure returns NULL and sets *why to a static message. */
X509 *hkc_pki_issue_csr(const unsigned char *der, size_t len, const char *expected_cn,
                        X509 *ca, EVP_PKEY *ca_key, int days, const char **why);

/* Adds cert to an OpenSSL hashed certificate directory (`<hash>.<n>`), unless
 * the same certificate is already there. */
bool hkc_pki_capath_add(const char *dir, X509 *cert);

#endif /* HKC_PKI_H */
