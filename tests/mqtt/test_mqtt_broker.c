/* The session engine against a real MQTT broker (Mosquitto 2.0) started on a
 * random loopback port: pipelined CONNECT + SUBSCRIBE + PUBLISH, QoS 1 both
 * ways, UNSUBSCRIBE, a persistent session that keeps a message while the
 * client is away, keep-alive PINGREQ/PINGRESP, DISCONNECT. The broker parses
 * every byte we send, so this checks the encoders independently of our own
 * decoders. */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hk_test.h"
#include "hubkey/mqtt.h"

#define ARRAY_LEN_(a) (sizeof(a) / sizeof((a)[0]))

/* ---- broker process ------------------------------------------------------ */

static const char *broker_path = "mosquitto";
static pid_t broker_pid = -1;
static pid_t drain_pid = -1;
static int broker_port;
static char broker_dir[64];
static char broker_conf[128];

static int free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(s, (struct sockaddr *)&a, &len) != 0) {
        if (s >= 0)
            close(s);
        return -1;
    }
    close(s);
    return ntohs(a.sin_port);
}

/* Start mosquitto and wait (blocking read, no timer) for its log line saying
 * it is running, which comes after its listener is open. Returns false when
 * the broker is not available. */
static bool broker_start(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(broker_dir, sizeof broker_dir, "%s/hkmqttXXXXXX", tmp ? tmp : "/tmp");
    if (!mkdtemp(broker_dir))
        return false;
    snprintf(broker_conf, sizeof broker_conf, "%s/mosquitto.conf", broker_dir);
    for (int attempt = 0; attempt < 5; attempt++) {
        broker_port = free_port();
        FILE *f = fopen(broker_conf, "w");
        if (!f || broker_port <= 0)
            return false;
        fprintf(f,
                "listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
                "log_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\n"
                "log_type information\n",
                broker_port);
        fclose(f);
        int out[2];
        if (pipe(out) != 0)
            return false;
        broker_pid = fork();
        if (broker_pid == 0) {
            dup2(out[1], 1);
            dup2(out[1], 2);
            close(out[0]);
            close(out[1]);
            execlp(broker_path, "mosquitto", "-c", broker_conf, (char *)NULL);
            _exit(127);
        }
        close(out[1]);
        FILE *log = fdopen(out[0], "r");
        char line[512];
        bool up = false;
        while (log && fgets(line, sizeof line, log)) {
            if (strstr(line, " running")) {
                up = true;
                break;
            }
            if (strstr(line, "Error"))
                break;
        }
        /* Keep draining the log (stderr is unbuffered, so the line above
         * arrives at once): a reader process discards the rest so the broker
         * never blocks on a full pipe. */
        if (up) {
            drain_pid = fork();
            if (drain_pid == 0) {
                while (fgets(line, sizeof line, log))
                    ;
                _exit(0);
            }
            fclose(log);
            return true;
        }
        if (log)
            fclose(log);
        kill(broker_pid, SIGTERM);
        waitpid(broker_pid, NULL, 0);
        broker_pid = -1;
    }
    return false;
}

static void broker_stop(void)
{
    if (broker_pid > 0) {
        kill(broker_pid, SIGTERM);
        waitpid(broker_pid, NULL, 0);
        broker_pid = -1;
    }
    if (drain_pid > 0) {
        waitpid(drain_pid, NULL, 0); /* ends at the broker's end of file */
        drain_pid = -1;
    }
    unlink(broker_conf);
    rmdir(broker_dir);
}

/* ---- non-blocking TCP transport (test-local) ------------------------------ */

static hk_result tcp_send(void *ctx, const uint8_t *buf, size_t len, size_t *out_sent)
{
    int fd = *(int *)ctx;
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    *out_sent = 0;
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? HK_OK : HK_ERR_IO;
    *out_sent = (size_t)n;
    return HK_OK;
}

static hk_result tcp_recv(void *ctx, uint8_t *buf, size_t cap, size_t *out_received)
{
    int fd = *(int *)ctx;
    ssize_t n = recv(fd, buf, cap, 0);
    *out_received = 0;
    if (n == 0)
        return HK_ERR_CLOSED;
    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK ? HK_OK : HK_ERR_IO;
    *out_received = (size_t)n;
    return HK_OK;
}

static int tcp_open(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)broker_port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

static uint32_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

/* ---- a client with its buffers and an event log --------------------------- */

typedef struct peer {
    hk_mqtt_client c;
    uint8_t tx[512], rx[512];
    int fd;
    hk_transport t;
    hk_mqtt_event_type types[32];
    hk_result results[32];
    uint16_t ids[32];
    bool session_present;
    char topic[64];
    char payload[64];
    uint8_t qos;
    size_t events;
} peer;

static void on_event(void *ctx, const hk_mqtt_event *e)
{
    peer *p = ctx;
    if (p->events < ARRAY_LEN_(p->types)) {
        p->types[p->events] = e->type;
        p->results[p->events] = e->result;
        p->ids[p->events] = e->packet_id;
    }
    p->events++;
    if (e->type == HK_MQTT_EVENT_CONNACK)
        p->session_present = e->session_present;
    if (e->type == HK_MQTT_EVENT_PUBLISH && e->publish.topic_len < sizeof p->topic &&
        e->publish.payload_len < sizeof p->payload) {
        memcpy(p->topic, e->publish.topic, e->publish.topic_len);
        p->topic[e->publish.topic_len] = 0;
        memcpy(p->payload, e->publish.payload, e->publish.payload_len);
        p->payload[e->publish.payload_len] = 0;
        p->qos = e->publish.qos;
    }
}

static void peer_init(peer *p)
{
    memset(p, 0, sizeof *p);
    p->fd = -1;
    hk_mqtt_client_config cfg = {0};
    cfg.tx_buf = p->tx;
    cfg.tx_cap = sizeof p->tx;
    cfg.rx_buf = p->rx;
    cfg.rx_cap = sizeof p->rx;
    cfg.on_event = on_event;
    cfg.event_ctx = p;
    HK_CHECK_RESULT(hk_mqtt_client_init(&p->c, &cfg), HK_OK);
}

static bool peer_connect(peer *p, const char *id, bool clean, uint16_t keep_alive_s)
{
    p->fd = tcp_open();
    HK_CHECK(p->fd >= 0);
    if (p->fd < 0)
        return false;
    p->t = (hk_transport){&p->fd, tcp_send, tcp_recv};
    hk_mqtt_connect_options o = {0};
    o.client_id = id;
    o.client_id_len = strlen(id);
    o.keep_alive_s = keep_alive_s;
    o.clean_session = clean;
    HK_CHECK_RESULT(hk_mqtt_client_connect(&p->c, &p->t, &o, now_ms()), HK_OK);
    return true;
}

static void peer_close(peer *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
}

/* Drive the client until events reaches want (or, with want 0, until
 * until_ms), waiting in poll() for the socket or the engine's deadline.
 * Gives up after 5 s. */
static hk_result run(peer *p, size_t want, uint32_t until_ms)
{
    uint32_t give_up = now_ms() + 5000;
    for (;;) {
        uint32_t now = now_ms(), deadline;
        hk_result r = hk_mqtt_client_process(&p->c, now, &deadline);
        if (r != HK_OK)
            return r;
        if (want ? p->events >= want : (int32_t)(now - until_ms) >= 0)
            return HK_OK;
        if (hk_mqtt_client_get_state(&p->c) == HK_MQTT_STATE_IDLE)
            return HK_OK;
        if ((int32_t)(now - give_up) >= 0)
            return HK_ERR_TIMEOUT;
        int32_t wait = (int32_t)(deadline - now);
        if (!want && (int32_t)(until_ms - now) < wait)
            wait = (int32_t)(until_ms - now);
        if (wait > 100)
            wait = 100;
        if (wait < 0)
            wait = 0;
        struct pollfd pfd = {p->fd, POLLIN, 0};
        if (p->c._internal.tx_len > p->c._internal.tx_sent)
            pfd.events |= POLLOUT;
        poll(&pfd, 1, wait);
    }
}

/* ---- tests ----------------------------------------------------------------- */

static void test_pipelined_roundtrip(void)
{
    static peer a;
    peer_init(&a);
    if (!peer_connect(&a, "hk-a", true, 60))
        return;
    hk_mqtt_subscription subs[2] = {{"hk/test/#", 9, 1}, {"hk/other", 8, 0}};
    uint16_t sid, pid, uid;
    HK_CHECK_RESULT(hk_mqtt_client_subscribe(&a.c, subs, 2, &sid), HK_OK);
    hk_mqtt_publish m = {0};
    m.topic = "hk/test/a";
    m.topic_len = 9;
    m.payload = (const uint8_t *)"hello";
    m.payload_len = 5;
    m.qos = 1;
    HK_CHECK_RESULT(hk_mqtt_client_publish(&a.c, &m, &pid), HK_OK);
    /* CONNACK, SUBACK, PUBACK and our own message back, in some order after
     * CONNACK (the broker may deliver before acknowledging). */
    HK_CHECK_RESULT(run(&a, 4, 0), HK_OK);
    HK_CHECK_EQ(a.types[0], HK_MQTT_EVENT_CONNACK);
    HK_CHECK_RESULT(a.results[0], HK_OK);
    HK_CHECK(!a.session_present);
    bool suback = false, puback = false, publish = false;
    for (size_t i = 1; i < 4; i++) {
        if (a.types[i] == HK_MQTT_EVENT_SUBACK && a.ids[i] == sid && a.results[i] == HK_OK)
            suback = true;
        if (a.types[i] == HK_MQTT_EVENT_PUBACK && a.ids[i] == pid && a.results[i] == HK_OK)
            puback = true;
        if (a.types[i] == HK_MQTT_EVENT_PUBLISH)
            publish = true;
    }
    HK_CHECK(suback && puback && publish);
    HK_CHECK(strcmp(a.topic, "hk/test/a") == 0);
    HK_CHECK(strcmp(a.payload, "hello") == 0);
    HK_CHECK_EQ(a.qos, 1);
    /* Unsubscribe, then a QoS 0 publish to the old filter is not delivered
     * back: the next event after UNSUBACK is the PUBLISH to hk/other. */
    HK_CHECK_RESULT(hk_mqtt_client_unsubscribe(&a.c, subs, 1, &uid), HK_OK);
    HK_CHECK_RESULT(run(&a, 5, 0), HK_OK);
    HK_CHECK_EQ(a.types[4], HK_MQTT_EVENT_UNSUBACK);
    HK_CHECK_EQ(a.ids[4], uid);
    m.qos = 0;
    HK_CHECK_RESULT(hk_mqtt_client_publish(&a.c, &m, &pid), HK_OK);
    m.topic = "hk/other";
    m.topic_len = 8;
    m.payload = (const uint8_t *)"x";
    m.payload_len = 1;
    HK_CHECK_RESULT(hk_mqtt_client_publish(&a.c, &m, &pid), HK_OK);
    HK_CHECK_RESULT(run(&a, 6, 0), HK_OK);
    HK_CHECK_EQ(a.types[5], HK_MQTT_EVENT_PUBLISH);
    HK_CHECK(strcmp(a.topic, "hk/other") == 0);
    HK_CHECK_EQ(a.qos, 0);
    HK_CHECK_RESULT(hk_mqtt_client_disconnect(&a.c), HK_OK);
    HK_CHECK_RESULT(run(&a, 100, 0), HK_OK);
    HK_CHECK_EQ(hk_mqtt_client_get_state(&a.c), HK_MQTT_STATE_IDLE);
    peer_close(&a);
}

/* A persistent session keeps a QoS 1 message published while we were away. */
static void test_persistent_session(void)
{
    static peer b, c;
    peer_init(&b);
    if (!peer_connect(&b, "hk-b", false, 60))
        return;
    hk_mqtt_subscription sub = {"hk/b", 4, 1};
    uint16_t id;
    HK_CHECK_RESULT(hk_mqtt_client_subscribe(&b.c, &sub, 1, &id), HK_OK);
    HK_CHECK_RESULT(run(&b, 2, 0), HK_OK);
    HK_CHECK_EQ(b.types[1], HK_MQTT_EVENT_SUBACK);
    HK_CHECK_RESULT(hk_mqtt_client_disconnect(&b.c), HK_OK);
    HK_CHECK_RESULT(run(&b, 100, 0), HK_OK);
    peer_close(&b);

    peer_init(&c);
    if (!peer_connect(&c, "hk-c", true, 60))
        return;
    hk_mqtt_publish m = {0};
    m.topic = "hk/b";
    m.topic_len = 4;
    m.payload = (const uint8_t *)"kept";
    m.payload_len = 4;
    m.qos = 1;
    HK_CHECK_RESULT(hk_mqtt_client_publish(&c.c, &m, &id), HK_OK);
    HK_CHECK_RESULT(run(&c, 2, 0), HK_OK);
    HK_CHECK_EQ(c.types[1], HK_MQTT_EVENT_PUBACK);
    peer_close(&c);

    b.events = 0;
    if (!peer_connect(&b, "hk-b", false, 60))
        return;
    HK_CHECK_RESULT(run(&b, 2, 0), HK_OK);
    HK_CHECK_EQ(b.types[0], HK_MQTT_EVENT_CONNACK);
    HK_CHECK(b.session_present);
    HK_CHECK_EQ(b.types[1], HK_MQTT_EVENT_PUBLISH);
    HK_CHECK(strcmp(b.payload, "kept") == 0);
    HK_CHECK_EQ(b.qos, 1);
    peer_close(&b);
}

/* Keep-alive of one second: the engine pings and the broker answers, so the
 * session survives well past the PINGREQ. */
static void test_keep_alive(void)
{
    static peer k;
    peer_init(&k);
    uint32_t start = now_ms();
    if (!peer_connect(&k, "hk-k", true, 1))
        return;
    HK_CHECK_RESULT(run(&k, 0, start + 1600), HK_OK);
    HK_CHECK_EQ(hk_mqtt_client_get_state(&k.c), HK_MQTT_STATE_CONNECTED);
    HK_CHECK_EQ(k.c._internal.ping_pending, 0);
    HK_CHECK((int32_t)(k.c._internal.last_tx_ms - (start + 1000)) >= 0);
    peer_close(&k);
}

int main(int argc, char **argv)
{
    if (argc > 1)
        broker_path = argv[1];
    signal(SIGPIPE, SIG_IGN);
    if (!broker_start()) {
        fprintf(stderr, "mosquitto could not be started\n");
        return 1;
    }
    HK_RUN(test_pipelined_roundtrip);
    HK_RUN(test_persistent_session);
    HK_RUN(test_keep_alive);
    broker_stop();
    return hk_test_finish("mqtt_broker");
}
