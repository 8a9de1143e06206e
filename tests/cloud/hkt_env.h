/*
 * Test environment for hubkey-cloud: starts a real cloud (the hubkey-cloud CLI
 * starting mosquitto with the plugin) in a fresh directory on a random
 * loopback port, makes certificates with OpenSSL, and drives the cloud with
 * libmosquitto as an independent MQTT client. Every wait is for an event
 * (a message, a CONNACK, a closed socket) with a generous upper bound; no
 * test sleeps to let time pass.
 */
#ifndef HKT_ENV_H
#define HKT_ENV_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <mosquitto.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#define HKT_WAIT_MS 10000

struct hkt_cloud {
    char root[256];  /* temporary directory of this test */
    char state[300]; /* the cloud's --dir */
    char ca[400];    /* server CA file devices trust */
    char scope[32];
    int port;
    bool up;
    int reaper_fd;  /* write end of the pipe the reaper process watches */
    int reaper_pid;
};

/* Starts a cloud; extra CLI arguments for `start` may be NULL. */
bool hkt_cloud_start(struct hkt_cloud *c);
/* Stops it and removes the directory. Safe to call twice. */
void hkt_cloud_stop(struct hkt_cloud *c);
/* Runs `hubkey-cloud --dir STATE args...` (NULL-terminated); returns its exit
 * code and, when out is not NULL, its standard output (heap, caller frees). */
int hkt_cli(struct hkt_cloud *c, char **out, const char *arg, ...);
/* Starts the CLI without waiting (for commands that block, like method
 * invoke); hkt_cli_finish collects its exit code and output. */
int hkt_cli_spawn(struct hkt_cloud *c, int *out_fd, const char *arg, ...);
int hkt_cli_finish(int pid, int fd, char **out);
/* Like hkt_cli, with standard error in the same output (for notes and errors). */
int hkt_cli_all(struct hkt_cloud *c, char **out, const char *arg, ...);
/* Runs the CLI and parses its output as JSON (for --json listings). */
json_t *hkt_cli_json(struct hkt_cloud *c, const char *arg, ...);

/* A CA or a device identity; files live under the test's directory. */
struct hkt_cert {
    X509 *cert;
    EVP_PKEY *key;
    char cert_path[400];  /* the certificate alone (PEM) */
    char chain_path[400]; /* leaf + issuing intermediates (PEM) for TLS */
    char key_path[400];
    void *ssl_ctx; /* optional prepared SSL_CTX (owned by the caller) used instead of the files */
};
/* A CA: root when parent is NULL, else an intermediate signed by parent. */
bool hkt_ca_make(struct hkt_cloud *c, struct hkt_cert *out, const char *cn,
                 const struct hkt_cert *parent);
/* A device certificate (EC P-256) with CN = cn signed by ca (NULL: self-signed);
 * the chain file holds the leaf and then every non-root certificate above it
 * (pass the intermediates in chain, NULL-terminated). */
bool hkt_device_make(struct hkt_cloud *c, struct hkt_cert *out, const char *cn,
                     const struct hkt_cert *ca, const struct hkt_cert *const *chain);
void hkt_cert_free(struct hkt_cert *x);

struct hkt_msg {
    char *topic;
    char *payload; /* NUL-terminated copy */
    int len;
    int qos;
    struct hkt_msg *next;
};
void hkt_msg_free(struct hkt_msg *m);

struct hkt_mqtt {
    struct mosquitto *m;
    int connack;      /* -1 until a CONNACK arrived */
    bool closed;
    int last_mid_acked;
    int granted_qos;  /* from the last SUBACK, -1 before */
    struct hkt_msg *inbox;
};

/* Connects over TLS with the identity (cert chain + key). Returns the CONNACK
 * code (0 accepted, 1..5 refused) or -1 when the connection closed without a
 * CONNACK (TLS refusal, dropped connection). */
int hkt_mqtt_connect(struct hkt_cloud *c, struct hkt_mqtt *q, const struct hkt_cert *id,
                     const char *client_id, const char *username);
/* The same with CleanSession chosen (false: a persistent session). */
int hkt_mqtt_connect_ex(struct hkt_cloud *c, struct hkt_mqtt *q, const struct hkt_cert *id,
                        const char *client_id, const char *username, bool clean);
/* SUBSCRIBE and wait for the SUBACK: the granted QoS, 128 for failure, or -1
 * when the connection closed. */
int hkt_mqtt_subscribe(struct hkt_mqtt *q, const char *filter, int qos);
/* PUBLISH; for QoS 1 waits for the PUBACK. false when the connection closed. */
bool hkt_mqtt_publish(struct hkt_mqtt *q, const char *topic, const void *payload, int len,
                      int qos);
/* Waits for a message whose topic starts with prefix (removed from the inbox). */
struct hkt_msg *hkt_mqtt_wait(struct hkt_mqtt *q, const char *prefix, int timeout_ms);
/* Waits until the server closes the connection. */
bool hkt_mqtt_wait_closed(struct hkt_mqtt *q, int timeout_ms);
void hkt_mqtt_close(struct hkt_mqtt *q);

/* A raw TLS connection to the cloud's listener, for what libmosquitto will
 * not send (oversized or hand-made packets) and for checking the server
 * certificate's names. */
struct hkt_tls {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    long verify; /* SSL_get_verify_result after the handshake */
};
/* Connects to 127.0.0.1:port with TLS 1.2, presenting id (chain + key) when
 * not NULL and verifying the server against the cloud's server CA; with
 * verify_name the server certificate must also name that host (sent as SNI
 * too). True when the handshake completed; t->verify says why not otherwise. */
bool hkt_tls_open(struct hkt_cloud *c, struct hkt_tls *t, const struct hkt_cert *id,
                  const char *verify_name);
/* Writes all of buf; false once the server closed the connection. */
bool hkt_tls_write(struct hkt_tls *t, const void *buf, size_t len);
/* Reads what arrives within timeout_ms: byte count, 0 on a closed
 * connection, -1 on timeout or error. */
int hkt_tls_read(struct hkt_tls *t, void *buf, size_t cap, int timeout_ms);
void hkt_tls_close(struct hkt_tls *t);

/* The broker's process ID (from the state directory) and its resident set
 * size in KiB (VmRSS of /proc/PID/status); -1 when unknown. */
long hkt_broker_pid(struct hkt_cloud *c);
long hkt_broker_rss_kb(struct hkt_cloud *c);

/* Username helpers. */
char *hkt_dps_username(struct hkt_cloud *c, const char *reg_id, const char *api_version);
char *hkt_hub_username(const char *hub, const char *device_id);

/* A complete DPS registration: connect, subscribe, register (body may be
 * NULL for the default `{"registrationId":...}`), poll until a terminal
 * answer. Returns the final JSON body (caller owns) and the topic's status
 * code in *out_status (-1 if the connection failed or closed). */
json_t *hkt_dps_register(struct hkt_cloud *c, const struct hkt_cert *id, const char *reg_id,
                         const char *body, int *out_status);

/* Status code in a `$dps/registrations/res/{status}/...` or `$iothub/.../res/{status}/` topic. */
int hkt_topic_status(const char *topic, const char *prefix);

#endif /* HKT_ENV_H */
