/*
 * hubkey-cloud: start, stop and manage the local DPS + IoT Hub.
 *
 * The CLI owns the state directory: it creates the PKI, the SQLite database
 * and the mosquitto configuration, starts the broker with the plugin, and
 * edits the database the plugin reads. Exit codes (also in
 * docs/hubkey-cloud.md):
 *   0 success
 *   1 usage: unknown command or option, missing argument
 *   2 bad input: unreadable file, bad certificate, bad JSON, bad value
 *   3 state: cloud not running / already running / not initialised, or the
 *     named enrollment, device or hub does not exist
 *   4 the broker could not be started or stopped
 *   5 direct method: device offline, timed out or answered outside 200..299
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cli_help.h"
#include "hkc_actions.h"
#include "hkc_console.h"
#include "hkc_db.h"
#include "hkc_pki.h"
#include "hkc_twin.h"
#include "hkc_util.h"
#include "hubkey/version.h"

enum { EX_OK = 0, EX_USAGE = 1, EX_INPUT = 2, EX_STATE = 3, EX_BROKER = 4, EX_METHOD = 5 };

#define DEFAULT_PORT 8883
#define DEFAULT_HUBS 2
#define DPS_HOST "dps.hubkey.test"

struct cli {
    char *dir;
    char *db_path;
    sqlite3 *db;
    int argc;
    char **argv; /* positional arguments and options after the global ones */
    const char *missing_opt; /* the last option take_opt found without its value */
};

static void msleep(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("hubkey-cloud: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}

/* ------------------------------------------------------------------ argument helpers */

/* Removes `--name VALUE` from the argument list and returns VALUE (or NULL). */
static const char *take_opt(struct cli *c, const char *name, bool *missing)
{
    for (int i = 0; i < c->argc; i++) {
        if (strcmp(c->argv[i], name) == 0) {
            if (i + 1 >= c->argc) {
                if (missing)
                    *missing = true;
                c->missing_opt = name;
                return NULL;
            }
            const char *v = c->argv[i + 1];
            memmove(&c->argv[i], &c->argv[i + 2], (size_t)(c->argc - i - 2) * sizeof(char *));
            c->argc -= 2;
            return v;
        }
    }
    return NULL;
}

static bool take_flag(struct cli *c, const char *name)
{
    for (int i = 0; i < c->argc; i++) {
        if (strcmp(c->argv[i], name) == 0) {
            memmove(&c->argv[i], &c->argv[i + 1], (size_t)(c->argc - i - 1) * sizeof(char *));
            c->argc--;
            return true;
        }
    }
    return false;
}

/* Any argument left that starts with "--" is an unknown option. */
static int check_leftovers(struct cli *c, int positional)
{
    for (int i = 0; i < c->argc; i++)
        if (strncmp(c->argv[i], "--", 2) == 0)
            return fail(EX_USAGE, "unknown option %s (see hubkey-cloud --help)", c->argv[i]);
    if (c->argc > positional)
        return fail(EX_USAGE, "unexpected argument '%s' (see hubkey-cloud --help)",
                    c->argv[positional]);
    return EX_OK;
}

static bool parse_int(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* ------------------------------------------------------------------ state directory */

static char *path_in(struct cli *c, const char *name)
{
    return hkc_printf("%s/%s", c->dir, name);
}

static bool open_db(struct cli *c, bool must_exist)
{
    if (c->db)
        return true;
    struct stat st;
    if (must_exist && stat(c->db_path, &st) != 0) {
        fail(EX_STATE, "no cloud state in %s: run `hubkey-cloud start` first", c->dir);
        return false;
    }
    c->db = hkc_db_open(c->db_path);
    return c->db != NULL;
}

static long read_pid(struct cli *c)
{
    char *path = path_in(c, "mosquitto.pid");
    FILE *f = fopen(path, "r");
    free(path);
    if (!f)
        return 0;
    long pid = 0;
    if (fscanf(f, "%ld", &pid) != 1)
        pid = 0;
    fclose(f);
    return pid;
}

/* True when pid is a live (not zombie) mosquitto process. */
static bool broker_alive(long pid)
{
    if (pid <= 0)
        return false;
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char buf[512];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *rp = strrchr(buf, ')');
    if (!rp || rp[1] != ' ' || rp[2] == 'Z' || rp[2] == 'X')
        return false;
    /* The command line names mosquitto (also when run under a wrapper such
     * as valgrind, see HUBKEY_CLOUD_MOSQUITTO). */
    snprintf(path, sizeof(path), "/proc/%ld/cmdline", pid);
    f = fopen(path, "r");
    if (!f)
        return false;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\0')
            buf[i] = ' ';
    buf[n] = '\0';
    return strstr(buf, "mosquitto") != NULL;
}

static bool running(struct cli *c, long *out_pid)
{
    long pid = read_pid(c);
    if (out_pid)
        *out_pid = pid;
    return broker_alive(pid);
}

/* ------------------------------------------------------------------ PKI and trust */

static char *hub_name(int i)
{
    return hkc_printf("hub-%d.hubkey.test", i);
}

/* The names the server certificate must carry: the DPS host, every hub,
 * localhost, then the extra names given to `start --server-name`. */
static char **server_names(struct cli *c, char *const *extra, size_t n_extra, size_t *out_n)
{
    json_t *hubs = hkc_db_query(c->db, "SELECT name FROM hubs ORDER BY name", NULL);
    size_t nh = json_array_size(hubs);
    char **dns = calloc(nh + n_extra + 3, sizeof(*dns));
    size_t k = 0;
    dns[k++] = hkc_strdup(DPS_HOST);
    for (size_t i = 0; i < nh; i++)
        dns[k++] = hkc_strdup(hkc_row_str(json_array_get(hubs, i), "name"));
    dns[k++] = hkc_strdup("localhost");
    for (size_t i = 0; i < n_extra; i++) {
        bool dup = false;
        for (size_t j = 0; j < k; j++)
            dup = dup || hkc_streq_nocase(dns[j], extra[i]);
        if (!dup)
            dns[k++] = hkc_strdup(extra[i]);
    }
    json_decref(hubs);
    *out_n = k;
    return dns;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

/* Whether the server certificate at path names exactly the DNS names given
 * (in any order and case). */
static bool server_cert_names_match(const char *path, char *const *names, size_t n)
{
    X509 *x = hkc_pki_read_cert(path);
    if (!x)
        return false;
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    size_t have = 0;
    bool all_wanted = true;
    for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (g->type != GEN_DNS)
            continue;
        const char *s = (const char *)ASN1_STRING_get0_data(g->d.dNSName);
        int len = ASN1_STRING_length(g->d.dNSName);
        bool wanted = false;
        for (size_t j = 0; j < n && !wanted; j++)
            wanted = (size_t)len == strlen(names[j]) && strncasecmp(s, names[j], (size_t)len) == 0;
        all_wanted = all_wanted && wanted;
        have++;
    }
    GENERAL_NAMES_free(gens);
    X509_free(x);
    return all_wanted && have == n;
}

/* Issues pki/server.pem (+ key) for names, signed by the server CA. */
static bool issue_server_cert(struct cli *c, const char *pki, char *const *names, size_t n)
{
    char *p_ca = hkc_printf("%s/server-ca.pem", pki), *p_cak = hkc_printf("%s/server-ca.key", pki);
    char *p_srv = hkc_printf("%s/server.pem", pki), *p_srvk = hkc_printf("%s/server.key", pki);
    X509 *ca = hkc_pki_read_cert(p_ca);
    EVP_PKEY *ca_key = hkc_pki_read_key(p_cak);
    EVP_PKEY *srv_key = hkc_pki_key_rsa(2048);
    const char **dns = calloc(n + 1, sizeof(*dns));
    for (size_t i = 0; dns && i < n; i++)
        dns[i] = names[i];
    const char *ips[] = {"127.0.0.1", NULL};
    struct hkc_cert_spec spec = {.cn = DPS_HOST, .key = srv_key, .issuer = ca,
                                 .issuer_key = ca_key, .dns = dns, .ips = ips,
                                 .days = 825, .server = true};
    X509 *srv = ca && ca_key && srv_key && dns ? hkc_pki_cert(&spec) : NULL;
    X509 *chain[2] = {srv, ca};
    bool ok = srv && hkc_pki_write_key(p_srvk, srv_key) && hkc_pki_write_cert(p_srv, chain, 2);
    if (!ok)
        fail(EX_INPUT, "could not issue the server certificate in %s", pki);
    (void)c;
    X509_free(ca), X509_free(srv);
    EVP_PKEY_free(ca_key), EVP_PKEY_free(srv_key);
    free(dns);
    free(p_ca), free(p_cak), free(p_srv), free(p_srvk);
    return ok;
}

/* The server PKI: the CAs are made once; the server certificate is (re)issued
 * whenever the set of names it must carry changed. *reissued says so. */
static bool make_pki(struct cli *c, char *const *extra, size_t n_extra, bool *reissued)
{
    char *pki = path_in(c, "pki");
    mkdir(pki, 0755);
    char *ca_pem = hkc_printf("%s/server-ca.pem", pki);
    struct stat st;
    bool ok = true;
    *reissued = false;
    if (stat(ca_pem, &st) != 0) {
        /* RSA, as today's Azure endpoints present RSA chains. */
        EVP_PKEY *ca_key = hkc_pki_key_rsa(2048);
        struct hkc_cert_spec ca_spec = {.cn = "hubkey-cloud Server Root CA", .key = ca_key,
                                        .ca = true, .pathlen = 0, .days = 3650};
        X509 *ca = ca_key ? hkc_pki_cert(&ca_spec) : NULL;
        EVP_PKEY *iss_key = hkc_pki_key_ec(NID_secp384r1);
        struct hkc_cert_spec iss_spec = {.cn = "hubkey-cloud Device Issuing CA", .key = iss_key,
                                         .ca = true, .pathlen = 0, .days = 3650};
        X509 *iss = iss_key ? hkc_pki_cert(&iss_spec) : NULL;
        char *p_cak = hkc_printf("%s/server-ca.key", pki);
        char *p_iss = hkc_printf("%s/issuing-ca.pem", pki), *p_issk = hkc_printf("%s/issuing-ca.key", pki);
        ok = ca && iss && hkc_pki_write_key(p_cak, ca_key) &&
             hkc_pki_write_cert(p_iss, &iss, 1) && hkc_pki_write_key(p_issk, iss_key) &&
             hkc_pki_write_cert(ca_pem, &ca, 1);
        free(p_cak), free(p_iss), free(p_issk);
        X509_free(ca), X509_free(iss);
        EVP_PKEY_free(ca_key), EVP_PKEY_free(iss_key);
        if (!ok)
            fail(EX_INPUT, "could not create the server PKI in %s", pki);
    }
    if (ok) {
        size_t n = 0;
        char **names = server_names(c, extra, n_extra, &n);
        char *p_srv = hkc_printf("%s/server.pem", pki);
        if (!server_cert_names_match(p_srv, names, n)) {
            ok = issue_server_cert(c, pki, names, n);
            *reissued = ok;
        }
        free(p_srv);
        free_names(names, n);
    }
    free(ca_pem);
    free(pki);
    return ok;
}

static bool trust_add_pem(struct cli *c, const char *pem)
{
    X509 *x = pem ? hkc_pki_from_pem(pem) : NULL;
    if (!x)
        return false;
    char *trust = path_in(c, "trust");
    mkdir(trust, 0755);
    bool ok = hkc_pki_capath_add(trust, x);
    free(trust);
    X509_free(x);
    return ok;
}

/* Rebuilds the hashed CA directory mosquitto's TLS layer trusts for client
 * certificates: uploaded CAs, group CAs, individual enrollment certificates,
 * hub identities registered with a certificate, and the issuing CA. */
static bool rebuild_trust(struct cli *c)
{
    char *trust = path_in(c, "trust");
    mkdir(trust, 0755);
    DIR *d = opendir(trust);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char *p = hkc_printf("%s/%s", trust, e->d_name);
            unlink(p);
            free(p);
        }
        closedir(d);
    }
    free(trust);
    json_t *rows = hkc_db_query(c->db,
                                "SELECT pem FROM cas UNION ALL SELECT cert_pem FROM enrollments "
                                "UNION ALL SELECT cert_pem FROM devices WHERE cert_pem IS NOT NULL",
                                NULL);
    size_t i;
    json_t *r;
    bool ok = rows != NULL;
    json_array_foreach(rows, i, r) {
        json_t *v = json_object_iter_value(json_object_iter(r));
        if (json_is_string(v))
            trust_add_pem(c, json_string_value(v));
    }
    json_decref(rows);
    char *iss = path_in(c, "pki/issuing-ca.pem");
    X509 *x = hkc_pki_read_cert(iss);
    char *pem = x ? hkc_pki_to_pem(x) : NULL;
    ok = ok && pem && trust_add_pem(c, pem);
    free(pem);
    X509_free(x);
    free(iss);
    return ok;
}

/* ------------------------------------------------------------------ start / stop / status */

static bool ensure_initialised(struct cli *c, long hubs_wanted, char *const *extra,
                               size_t n_extra, bool *reissued)
{
    if (!open_db(c, false))
        return false;
    char *scope = hkc_db_setting(c->db, "id_scope");
    if (!scope) {
        unsigned char r[4];
        FILE *f = fopen("/dev/urandom", "r");
        if (!f || fread(r, 1, 4, f) != 4) {
            if (f)
                fclose(f);
            fail(EX_INPUT, "no randomness for the ID scope");
            return false;
        }
        fclose(f);
        scope = hkc_printf("0ne%02X%02X%02X%02X", r[0], r[1], r[2], r[3]);
        hkc_db_set(c->db, "id_scope", scope);
        for (long i = 1; i <= hubs_wanted; i++) {
            char *h = hub_name((int)i);
            hkc_db_exec(c->db, "INSERT OR IGNORE INTO hubs(name) VALUES(?)", "s", h);
            free(h);
        }
    }
    free(scope);
    return make_pki(c, extra, n_extra, reissued);
}

static char *plugin_path(void)
{
    const char *env = getenv("HUBKEY_CLOUD_PLUGIN");
    if (env && *env)
        return hkc_strdup(env);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return NULL;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = '\0';
    /* Installed: HKC_PLUGIN_RELPATH (LIBDIR/hubkey as seen from BINDIR, set
     * by the build); the build tree: bin/../lib. */
#ifndef HKC_PLUGIN_RELPATH
#define HKC_PLUGIN_RELPATH "../lib/hubkey/hubkey-cloud-plugin.so"
#endif
    const char *rel[] = {HKC_PLUGIN_RELPATH, "../lib/hubkey-cloud-plugin.so"};
    for (size_t i = 0; i < 2; i++) {
        char *p = hkc_printf("%s/%s", exe, rel[i]);
        char *real = realpath(p, NULL);
        free(p);
        if (real)
            return real;
    }
    return NULL;
}

static char *find_mosquitto(void)
{
    const char *env = getenv("HUBKEY_CLOUD_MOSQUITTO");
    if (env && *env)
        return hkc_strdup(env);
    const char *cands[] = {"/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto",
                           "/usr/bin/mosquitto"};
    for (size_t i = 0; i < 3; i++)
        if (access(cands[i], X_OK) == 0)
            return hkc_strdup(cands[i]);
    return NULL;
}

/* Whether a user who is neither owner nor group ("others", as `mosquitto`
 * is to our files) can reach path: every directory on the way searchable,
 * and path itself with the mode bits in want. */
static bool others_reach(const char *path, mode_t want)
{
    char *real = realpath(path, NULL);
    bool reachable = real != NULL;
    for (char *p = real; reachable && p; p = strchr(p + 1, '/')) {
        char saved = p[1];
        p[1] = '\0';
        struct stat st;
        mode_t need = saved ? S_IXOTH : want;
        reachable = stat(real, &st) == 0 && (st.st_mode & need) == need;
        p[1] = saved;
        if (!saved)
            break;
    }
    free(real);
    return reachable;
}

/* As root, mosquitto drops to user `mosquitto` before it loads the plugin:
 * that works only when that user can reach the state directory and read
 * the plugin. Otherwise the broker keeps root. */
static const char *broker_user(struct cli *c, const char *plugin, uid_t *uid, gid_t *gid)
{
    if (geteuid() != 0)
        return NULL;
    struct passwd *pw = getpwnam("mosquitto");
    if (!pw)
        return "root";
    if (!others_reach(c->dir, S_IXOTH) || !others_reach(plugin, S_IROTH))
        return "root";
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return "mosquitto";
}

static void chown_tree(const char *path, uid_t uid, gid_t gid)
{
    if (lchown(path, uid, gid) != 0)
        return;
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *p = hkc_printf("%s/%s", path, e->d_name);
        chown_tree(p, uid, gid);
        free(p);
    }
    closedir(d);
}

static bool port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

/* A free loopback port chosen by the kernel. */
static int free_port_any(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof(a);
    int port = 0;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &l) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

static bool port_open(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    close(fd);
    return ok;
}

/* The broker's two outputs: its log file, and its standard output and
 * error (where it writes before the log file is open). */
static const char *const broker_outputs[] = {"mosquitto.log", "mosquitto.out"};

/* Opens the broker's output number i for reading (NULL if it is absent). */
static FILE *broker_output(struct cli *c, int i)
{
    char *p = path_in(c, broker_outputs[i]);
    FILE *f = fopen(p, "r");
    free(p);
    return f;
}

static void print_log_tail(struct cli *c)
{
    for (int i = 0; i < 2; i++) {
        FILE *f = broker_output(c, i);
        if (!f)
            continue;
        char line[512];
        char last[8][512];
        int n = 0;
        while (fgets(line, sizeof(line), f)) {
            memcpy(last[n % 8], line, sizeof(line));
            n++;
        }
        fclose(f);
        for (int k = n > 8 ? n - 8 : 0; k < n; k++)
            fprintf(stderr, "  %s", last[k % 8]);
    }
}

static void print_endpoints(struct cli *c, int port)
{
    char *scope = hkc_db_setting(c->db, "id_scope");
    char *ca = path_in(c, "pki/server-ca.pem");
    printf("DPS          mqtts://%s:%d\n", DPS_HOST, port);
    json_t *hubs = hkc_db_query(c->db, "SELECT name FROM hubs ORDER BY name", NULL);
    size_t i;
    json_t *h;
    json_array_foreach(hubs, i, h)
        printf("IoT Hub      mqtts://%s:%d\n", hkc_row_str(h, "name"), port);
    printf("ID scope     %s\n", scope ? scope : "?");
    printf("Server CA    %s\n", ca);
    printf("State        %s\n", c->dir);
    /* Nothing makes these names resolve: say how to reach the listener. */
    printf("\nThe broker listens on 127.0.0.1:%d only, and the host names above do not\n"
           "resolve by themselves. Either connect to 127.0.0.1:%d and keep the names for\n"
           "TLS (hubkey: --dps %s --cloud-address 127.0.0.1:%d --trust %s;\n"
           "hubkey-cloud env --conf writes them as a file for hubkey --config),\n"
           "or add them to /etc/hosts:\n  127.0.0.1 %s",
           port, port, DPS_HOST, port, ca, DPS_HOST);
    json_array_foreach(hubs, i, h)
        printf(" %s", hkc_row_str(h, "name"));
    printf("\n");
    /* A command that works as printed once DEVICE names a device certificate
     * (CN = DEVICE, self-signed or its root uploaded with `ca add`). */
    const char *hub = hkc_row_str(json_array_get(hubs, 0), "name");
    if (hub) {
        printf("Devices present a client certificate. To try the hub with one (DEVICE.pem,\n"
               "DEVICE.key, CN=DEVICE; self-signed, or its root uploaded with ca add):\n"
               "  hubkey-cloud --dir %s device add DEVICE --hub %s --cert DEVICE.pem\n"
               "  mosquitto_pub -h 127.0.0.1 -p %d -V mqttv311 --cafile %s "
               "--cert DEVICE.pem --key DEVICE.key -i DEVICE -u '%s/DEVICE/?api-version=2021-04-12' "
               "-t 'devices/DEVICE/messages/events/' -m hello\n"
               "  hubkey-cloud --dir %s telemetry\n",
               c->dir, hub, port, ca, hub, c->dir);
    }
    json_decref(hubs);
    free(scope);
    free(ca);
}

static bool write_conf(struct cli *c, int port, int wake_port, const char *plugin,
                       const char *user)
{
    char *conf = path_in(c, "mosquitto.conf");
    FILE *f = fopen(conf, "w");
    free(conf);
    if (!f)
        return false;
    fprintf(f,
            "# Written by hubkey-cloud start; rewritten at every start.\n"
            "per_listener_settings false\n"
            "allow_anonymous false\n"
            "persistence false\n"
            "set_tcp_nodelay true\n"
            "max_queued_messages 100000\n"
            "max_inflight_messages 100\n"
            /* mosquitto reads a whole packet into memory before a plugin
             * sees it (a CONNECT before authentication): refuse any packet
             * larger than the largest legitimate one as soon as its length
             * is announced. */
            "max_packet_size %u\n"
            "log_dest file %s/mosquitto.log\n"
            "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
            "log_timestamp_format %%Y-%%m-%%dT%%H:%%M:%%S\n",
            HKC_PACKET_MAX, c->dir);
    if (user)
        fprintf(f, "user %s\n", user);
    /* Plain loopback listener only the plugin itself uses (with a random token)
     * to wake the broker loop right after it queued a reply. */
    fprintf(f, "listener %d 127.0.0.1\n", wake_port);
    fprintf(f,
            "listener %d 127.0.0.1\n"
            "max_qos 1\n"
            "certfile %s/pki/server.pem\n"
            "keyfile %s/pki/server.key\n"
            "capath %s/trust\n"
            "require_certificate true\n"
            "tls_version tlsv1.2\n"
            "plugin %s\n"
            "plugin_opt_database %s\n"
            "plugin_opt_state_dir %s\n"
            "plugin_opt_wake_port %d\n",
            port, c->dir, c->dir, c->dir, plugin, c->db_path, c->dir, wake_port);
    return fclose(f) == 0;
}

/* A DNS host name: 1..253 characters, labels of 1..63 letters, digits and
 * '-' that neither start nor end with '-'. */
static bool valid_dns_name(const char *s)
{
    size_t len = strlen(s), label = 0;
    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i <= len; i++) {
        char ch = s[i];
        if (ch == '.' || ch == '\0') {
            if (label == 0 || label > 63 || s[i - 1] == '-')
                return false;
            label = 0;
        } else if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                   (ch >= '0' && ch <= '9') || (ch == '-' && label > 0)) {
            label++;
        } else {
            return false;
        }
    }
    return true;
}

#define SERVER_NAMES_MAX 16

/* launch_broker's answer when another try may succeed (not an exit code). */
enum { LAUNCH_RETRY = -1 };

/* True when the broker's outputs say a listener found its address in use. */
static bool log_says_address_in_use(struct cli *c)
{
    bool found = false;
    for (int i = 0; i < 2 && !found; i++) {
        FILE *f = broker_output(c, i);
        if (!f)
            continue;
        char line[512];
        while (!found && fgets(line, sizeof(line), f))
            found = strstr(line, "Address already in use") != NULL;
        fclose(f);
    }
    return found;
}

/* Starts mosquitto on the written configuration and waits until the public
 * listener on `port` accepts connections (it does only after the plugin
 * loaded). EX_OK with *child set; LAUNCH_RETRY when the broker stopped on an
 * address in use while `port` itself is still free (the wake port was taken:
 * worth another try); EX_BROKER with *child = 0 when it did not start for
 * another reason (the caller shows its log); EX_BROKER with *child = -1 when
 * it could not even be forked. */
static int launch_broker(struct cli *c, const char *mosq, int port, const char *user, uid_t uid,
                         gid_t gid, pid_t *child)
{
    char *log = path_in(c, "mosquitto.log");
    unlink(log);
    free(log);
    if (c->db) {
        hkc_db_close(c->db);
        c->db = NULL;
    }
    if (user && strcmp(user, "mosquitto") == 0)
        chown_tree(c->dir, uid, gid);
    char *conf = path_in(c, "mosquitto.conf");
    char *out = path_in(c, "mosquitto.out");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        free(conf), free(out);
        *child = -1;
        return fail(EX_BROKER, "fork: %s", strerror(errno));
    }
    if (pid == 0) {
        setsid();
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, 0);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
        }
        execl(mosq, "mosquitto", "-c", conf, (char *)NULL);
        _exit(127);
    }
    free(out);
    free(conf);
    bool ready = false, exited = false;
    for (int i = 0; i < 1500 && !ready && !exited; i++) {
        int st;
        exited = waitpid(pid, &st, WNOHANG) == pid;
        ready = !exited && port_open(port);
        if (!ready && !exited)
            msleep(10);
    }
    if (ready) {
        *child = pid;
        return EX_OK;
    }
    if (!exited) { /* still running but not listening in 15 s */
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    *child = 0;
    if (log_says_address_in_use(c) && port_free(port))
        return LAUNCH_RETRY;
    return EX_BROKER;
}

static int cmd_start(struct cli *c)
{
    bool missing = false;
    const char *port_s = take_opt(c, "--port", &missing);
    const char *hubs_s = take_opt(c, "--hubs", &missing);
    /* --server-name NAME, repeatable: extra DNS names for the server
     * certificate (for clients that check a fixed host name, such as
     * global.azure-devices-provisioning.net). */
    char *extra[SERVER_NAMES_MAX];
    size_t n_extra = 0;
    const char *name;
    while ((name = take_opt(c, "--server-name", &missing)) != NULL) {
        if (n_extra == SERVER_NAMES_MAX)
            return fail(EX_INPUT, "at most %d --server-name options", SERVER_NAMES_MAX);
        if (!valid_dns_name(name))
            return fail(EX_INPUT, "--server-name '%s' is not a DNS host name", name);
        extra[n_extra++] = (char *)name;
    }
    if (missing)
        return fail(EX_USAGE, "%s needs a value", c->missing_opt);
    int rc = check_leftovers(c, 0);
    if (rc)
        return rc;
    long port = 0, hubs = DEFAULT_HUBS;
    if (port_s && !parse_int(port_s, 1, 65535, &port))
        return fail(EX_INPUT, "--port must be 1..65535");
    if (hubs_s && !parse_int(hubs_s, 1, 16, &hubs))
        return fail(EX_INPUT, "--hubs must be 1..16");
    if (mkdir(c->dir, 0755) != 0 && errno != EEXIST)
        return fail(EX_INPUT, "cannot create %s: %s", c->dir, strerror(errno));
    long pid;
    if (!open_db(c, false))
        return EX_INPUT;
    if (running(c, &pid)) {
        printf("hubkey-cloud is already running (pid %ld)\n",  pid);
        if (n_extra > 0)
            fprintf(stderr, "hubkey-cloud: note: --server-name applies when the cloud starts: "
                            "stop it and start it again\n");
        print_endpoints(c, (int)hkc_db_setting_int(c->db, "port", DEFAULT_PORT));
        return EX_OK;
    }
    bool reissued = false;
    if (!ensure_initialised(c, hubs, extra, n_extra, &reissued))
        return EX_INPUT;
    if (reissued)
        printf("server certificate issued for %s, every hub, localhost, 127.0.0.1%s", DPS_HOST,
               n_extra ? " and " : "\n");
    for (size_t i = 0; reissued && i < n_extra; i++)
        printf("%s%s", extra[i], i + 1 < n_extra ? ", " : "\n");
    if (!port)
        port = hkc_db_setting_int(c->db, "port", DEFAULT_PORT);
    char ps[16];
    snprintf(ps, sizeof(ps), "%ld", port);
    hkc_db_set(c->db, "port", ps);
    if (!rebuild_trust(c))
        return fail(EX_INPUT, "could not write the trusted CA directory");
    char *plugin = plugin_path();
    if (!plugin)
        return fail(EX_BROKER, "cannot find hubkey-cloud-plugin.so next to this program "
                               "(set HUBKEY_CLOUD_PLUGIN)");
    if (strpbrk(plugin, " \t\r\n")) {
        free(plugin);
        return fail(EX_BROKER, "the plugin path must not contain whitespace");
    }
    char *mosq = find_mosquitto();
    if (!mosq) {
        free(plugin);
        return fail(EX_BROKER, "mosquitto not found (apt-get install mosquitto)");
    }
    if (!port_free((int)port)) {
        free(plugin);
        free(mosq);
        return fail(EX_BROKER, "port %ld on 127.0.0.1 is in use (choose another with --port)",
                    port);
    }
    uid_t uid = 0;
    gid_t gid = 0;
    const char *user = broker_user(c, plugin, &uid, &gid);
    pid_t child = -1;
    rc = EX_BROKER;
    /* The wake listener's port is chosen here and only bound by mosquitto a
     * moment later: another process (or the kernel handing the same free
     * port out twice) can take it in between. When the broker stops on an
     * address in use while the public port is still free, only the wake
     * port was lost: choose another and start again. */
    for (int attempt = 0; attempt < 4; attempt++) {
        child = -1; /* no log to show unless this attempt launched */
        int wake_port = free_port_any();
        for (int k = 0; k < 16 && wake_port == (int)port; k++)
            wake_port = free_port_any();
        if (wake_port <= 0 || wake_port == (int)port) {
            rc = fail(EX_BROKER, "no free loopback port for the broker's wake listener");
            break;
        }
        if (!write_conf(c, (int)port, wake_port, plugin, user)) {
            rc = fail(EX_INPUT, "cannot write %s/mosquitto.conf", c->dir);
            break;
        }
        rc = launch_broker(c, mosq, (int)port, user, uid, gid, &child);
        if (rc != LAUNCH_RETRY)
            break;
    }
    free(plugin);
    free(mosq);
    if (rc == LAUNCH_RETRY)
        rc = EX_BROKER;
    if (rc != EX_OK) {
        if (child == 0) {
            fail(EX_BROKER, "mosquitto did not start; its log says:");
            print_log_tail(c);
        }
        return rc;
    }
    char *pidf = path_in(c, "mosquitto.pid");
    FILE *f = fopen(pidf, "w");
    if (f) {
        fprintf(f, "%ld\n", (long)child);
        fclose(f);
    }
    free(pidf);
    if (!open_db(c, true))
        return EX_INPUT;
    printf("hubkey-cloud started (pid %ld%s%s)\n", (long)child, user ? ", broker user " : "",
           user ? user : "");
    print_endpoints(c, (int)port);
    return EX_OK;
}

static int cmd_stop(struct cli *c)
{
    int rc = check_leftovers(c, 0);
    if (rc)
        return rc;
    long pid;
    if (!running(c, &pid)) {
        printf("hubkey-cloud is not running\n");
        return EX_OK;
    }
    kill((pid_t)pid, SIGTERM);
    for (int i = 0; i < 1000; i++) {
        if (!broker_alive(pid))
            break;
        msleep(10);
    }
    if (broker_alive(pid)) {
        kill((pid_t)pid, SIGKILL);
        msleep(100);
    }
    if (broker_alive(pid))
        return fail(EX_BROKER, "mosquitto (pid %ld) did not stop", pid);
    char *pidf = path_in(c, "mosquitto.pid");
    unlink(pidf);
    free(pidf);
    printf("hubkey-cloud stopped\n");
    return EX_OK;
}

static int count_of(struct cli *c, const char *sql)
{
    json_t *row = hkc_db_row(c->db, sql, NULL);
    int n = (int)hkc_row_int(row, "n");
    json_decref(row);
    return n;
}

static int cmd_status(struct cli *c)
{
    bool as_json = take_flag(c, "--json");
    int rc = check_leftovers(c, 0);
    if (rc)
        return rc;
    long pid;
    bool up = running(c, &pid);
    struct stat st;
    if (stat(c->db_path, &st) != 0) {
        if (as_json)
            printf("{\"running\":false,\"initialised\":false}\n");
        else
            printf("hubkey-cloud is not initialised in %s\n", c->dir);
        return EX_STATE;
    }
    if (!open_db(c, true))
        return EX_INPUT;
    int port = (int)hkc_db_setting_int(c->db, "port", DEFAULT_PORT);
    char *scope = hkc_db_setting(c->db, "id_scope");
    if (as_json) {
        char *ca = path_in(c, "pki/server-ca.pem");
        json_t *hubs = json_array();
        json_t *rows = hkc_db_query(c->db, "SELECT name FROM hubs ORDER BY name", NULL);
        size_t i;
        json_t *h;
        json_array_foreach(rows, i, h)
            json_array_append_new(hubs, json_string(hkc_row_str(h, "name")));
        json_decref(rows);
        json_t *o = json_pack("{s:b,s:b,s:i,s:i,s:s,s:s,s:o,s:s,s:s,s:i,s:i,s:i}", "running", up,
                              "initialised", true, "pid", up ? (int)pid : 0, "port", port,
                              "id_scope", scope ? scope : "", "dps_host", DPS_HOST, "hubs", hubs,
                              "server_ca", ca, "dir", c->dir, "enrollments",
                              count_of(c, "SELECT count(*) AS n FROM enrollments"), "devices",
                              count_of(c, "SELECT count(*) AS n FROM devices"), "registrations",
                              count_of(c, "SELECT count(*) AS n FROM registrations"));
        free(ca);
        char *s = json_dumps(o, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(o);
    } else {
        printf("hubkey-cloud is %s", up ? "running" : "stopped");
        if (up)
            printf(" (pid %ld)", pid);
        printf("\n");
        print_endpoints(c, port);
        printf("enrollments %d, devices %d, registrations %d\n",
               count_of(c, "SELECT count(*) AS n FROM enrollments"),
               count_of(c, "SELECT count(*) AS n FROM devices"),
               count_of(c, "SELECT count(*) AS n FROM registrations"));
    }
    free(scope);
    return up ? EX_OK : EX_STATE;
}

/* Prints s in single quotes for a POSIX shell. */
static void print_sh_quoted(const char *s)
{
    putchar('\'');
    for (; *s; s++) {
        if (*s == '\'')
            fputs("'\\''", stdout);
        else
            putchar(*s);
    }
    putchar('\'');
}

/* env [--conf | --json]: what the hubkey agent needs to reach this cloud,
 * named as the agent's options are (id-scope, dps, cloud-address, trust). */
static int cmd_env(struct cli *c)
{
    bool conf = take_flag(c, "--conf");
    bool as_json = take_flag(c, "--json");
    int rc = check_leftovers(c, 0);
    if (rc)
        return rc;
    if (conf && as_json)
        return fail(EX_USAGE, "env: --conf and --json exclude each other");
    if (!open_db(c, true))
        return EX_STATE;
    char *scope = hkc_db_setting(c->db, "id_scope");
    if (!scope)
        return fail(EX_STATE, "no ID scope in %s: run `hubkey-cloud start` first", c->dir);
    int port = (int)hkc_db_setting_int(c->db, "port", DEFAULT_PORT);
    char address[32];
    snprintf(address, sizeof(address), "127.0.0.1:%d", port);
    char *ca = path_in(c, "pki/server-ca.pem");
    if (!running(c, NULL))
        fprintf(stderr, "hubkey-cloud: note: the cloud in %s is not running "
                        "(hubkey-cloud start)\n", c->dir);
    const char *names[] = {"id-scope", "dps", "cloud-address", "trust"};
    const char *values[] = {scope, DPS_HOST, address, ca};
    if (as_json) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "id_scope", scope, "dps", DPS_HOST,
                              "cloud_address", address, "trust", ca);
        char *text = json_dumps(o, JSON_COMPACT);
        printf("%s\n", text ? text : "{}");
        free(text);
        json_decref(o);
    } else if (conf) {
        printf("# The local cloud in %s, for hubkey --config FILE\n"
               "# (written by hubkey-cloud env --conf)\n", c->dir);
        for (size_t i = 0; i < 4; i++)
            printf("%s %s\n", names[i], values[i]);
    } else {
        printf("# The local cloud in %s: eval \"$(hubkey-cloud env)\"\n", c->dir);
        for (size_t i = 0; i < 4; i++) {
            printf("export HUBKEY_");
            for (const char *p = names[i]; *p; p++)
                putchar(*p == '-' ? '_' : (*p >= 'a' && *p <= 'z' ? *p - 32 : *p));
            putchar('=');
            print_sh_quoted(values[i]);
            putchar('\n');
        }
    }
    free(ca);
    free(scope);
    return EX_OK;
}

/* ------------------------------------------------------------------ listings */

/* Columns stored as 0/1 that are booleans: JSON true/false, yes/no in tables. */
static const char *const bool_columns[] = {"enabled", "apply_allocation", NULL};

static void rows_booleans(json_t *rows)
{
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        for (size_t k = 0; bool_columns[k]; k++) {
            json_t *v = json_object_get(r, bool_columns[k]);
            if (json_is_integer(v))
                json_object_set_new(r, bool_columns[k], json_boolean(json_integer_value(v)));
        }
    }
}

/* A value as a table cell: text as is, yes/no, "-" for nothing (heap). */
static char *cell_text(json_t *v)
{
    if (!v || json_is_null(v))
        return hkc_strdup("-");
    if (json_is_string(v))
        return hkc_strdup(json_string_value(v));
    if (json_is_boolean(v))
        return hkc_strdup(json_is_true(v) ? "yes" : "no");
    return json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
}

/* Prints rows as one JSON array, or as an aligned table of the given
 * columns. Cells are never shortened: a long value widens its column (the
 * last column is not padded). */
static void print_rows(json_t *rows, bool as_json, const char *const *cols)
{
    rows_booleans(rows);
    if (as_json) {
        char *s = json_dumps(rows, JSON_COMPACT);
        printf("%s\n", s ? s : "[]");
        free(s);
        return;
    }
    size_t ncol = 0;
    while (cols[ncol])
        ncol++;
    size_t *w = calloc(ncol, sizeof(*w));
    if (!w)
        return;
    for (size_t k = 0; k < ncol; k++)
        w[k] = strlen(cols[k]);
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        for (size_t k = 0; k < ncol; k++) {
            char *s = cell_text(json_object_get(r, cols[k]));
            size_t l = s ? strlen(s) : 0;
            if (l > w[k])
                w[k] = l;
            free(s);
        }
    }
    for (size_t k = 0; k < ncol; k++)
        printf("%-*s%s", k + 1 < ncol ? (int)w[k] : 0, cols[k], k + 1 < ncol ? "  " : "\n");
    json_array_foreach(rows, i, r) {
        for (size_t k = 0; k < ncol; k++) {
            char *s = cell_text(json_object_get(r, cols[k]));
            printf("%-*s%s", k + 1 < ncol ? (int)w[k] : 0, s ? s : "", k + 1 < ncol ? "  " : "\n");
            free(s);
        }
    }
    free(w);
}

static int list_query(struct cli *c, const char *sql, const char *const *cols, const char *types,
                      const char *arg)
{
    bool as_json = take_flag(c, "--json");
    int rc = check_leftovers(c, 0);
    if (rc)
        return rc;
    if (!open_db(c, true))
        return EX_STATE;
    json_t *rows = types ? hkc_db_query(c->db, sql, types, arg) : hkc_db_query(c->db, sql, NULL);
    if (!rows)
        return EX_INPUT;
    print_rows(rows, as_json, cols);
    json_decref(rows);
    return EX_OK;
}

/* ------------------------------------------------------------------ enrollments and CAs */

static bool self_signed(X509 *x)
{
    EVP_PKEY *k = X509_get0_pubkey(x);
    return X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0 && k &&
           X509_verify(x, k) == 1;
}

/* Whether x reaches a self-signed root through the uploaded CAs and group
 * certificates (checked by signature, as the plugin walks them). NULL when it does (or is a root
 * itself); else the subject of the first issuer that is missing (heap). */
static char *untrusted_issuer(struct cli *c, X509 *x)
{
    if (self_signed(x))
        return NULL;
    json_t *rows = hkc_db_query(c->db, "SELECT pem FROM cas UNION ALL SELECT cert_pem AS pem "
                                       "FROM enrollments WHERE kind='group'",
                                NULL);
    size_t n = json_array_size(rows), found = 0;
    X509 **cas = calloc(n ? n : 1, sizeof(*cas));
    for (size_t i = 0; cas && i < n; i++) {
        X509 *ca = hkc_pki_from_pem(hkc_row_str(json_array_get(rows, i), "pem"));
        if (ca)
            cas[found++] = ca;
    }
    json_decref(rows);
    size_t idx[8];
    size_t depth = cas ? hkc_pki_ancestry(x, cas, found, idx, 8) : 0;
    X509 *top = depth ? cas[idx[depth - 1]] : x;
    char *missing = NULL;
    if (!self_signed(top)) {
        char buf[512];
        X509_NAME_oneline(X509_get_issuer_name(top), buf, sizeof(buf));
        missing = hkc_strdup(buf);
    }
    hkc_pki_free_certs(cas, found);
    return missing;
}

#define TRUST_BUNDLE_MAX 25

/* Reads a trust bundle file: 1..TRUST_BUNDLE_MAX PEM CA certificates, kept
 * as PEM text (re-encoded, one after the other) in *out. */
static int read_trust_bundle(const char *path, char **out)
{
    size_t n = 0;
    X509 **certs = hkc_pki_read_certs(path, &n);
    int rc = EX_OK;
    if (n == 0)
        rc = fail(EX_INPUT, "--trust-bundle %s: no PEM certificate found", path);
    else if (n > TRUST_BUNDLE_MAX)
        rc = fail(EX_INPUT, "--trust-bundle %s: %zu certificates, at most %d", path, n,
                  TRUST_BUNDLE_MAX);
    size_t len = 0;
    char *text = NULL;
    for (size_t i = 0; i < n && rc == EX_OK; i++) {
        if (X509_check_ca(certs[i]) == 0) {
            rc = fail(EX_INPUT, "--trust-bundle %s: certificate %zu is not a CA", path, i + 1);
            break;
        }
        char *pem = hkc_pki_to_pem(certs[i]);
        size_t l = pem ? strlen(pem) : 0;
        char *grown = pem ? realloc(text, len + l + 1) : NULL;
        if (!grown) {
            free(pem);
            rc = fail(EX_INPUT, "--trust-bundle %s: out of memory", path);
            break;
        }
        text = grown;
        memcpy(text + len, pem, l + 1);
        len += l;
        free(pem);
    }
    hkc_pki_free_certs(certs, n);
    if (rc != EX_OK) {
        free(text);
        text = NULL;
    }
    *out = text;
    return rc;
}

static X509 *load_cert_arg(const char *path)
{
    X509 *x = hkc_pki_read_cert(path);
    if (!x)
        fail(EX_INPUT, "%s: not a readable PEM certificate", path);
    return x;
}

static bool valid_json_object_arg(const char *s, const char *what)
{
    if (!s)
        return true;
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    bool ok = json_is_object(j);
    json_decref(j);
    if (!ok)
        fail(EX_INPUT, "%s must be a JSON object: %s", what, j ? "not an object" : e.text);
    return ok;
}

static int enroll_add(struct cli *c, const char *kind)
{
    bool missing = false;
    const char *cert_path = take_opt(c, "--cert", &missing);
    const char *device_id = take_opt(c, "--device-id", &missing);
    const char *hubs = take_opt(c, "--hubs", &missing);
    const char *alloc = take_opt(c, "--allocation", &missing);
    const char *repro = take_opt(c, "--reprovision", &missing);
    const char *twin = take_opt(c, "--initial-twin", &missing);
    const char *payload = take_opt(c, "--payload", &missing);
    const char *bundle_path = take_opt(c, "--trust-bundle", &missing);
    bool disabled = take_flag(c, "--disabled");
    if (missing)
        return fail(EX_USAGE, "%s needs a value", c->missing_opt);
    int rc = check_leftovers(c, 1);
    if (rc)
        return rc;
    if (c->argc < 1 || !cert_path)
        return fail(EX_USAGE, "usage: enroll %s add NAME --cert FILE.pem [options]", kind);
    const char *name = c->argv[0];
    bool individual = strcmp(kind, "individual") == 0;
    if (individual ? !hkc_reg_id_valid(name) : !hkc_reg_id_valid(name))
        return fail(EX_INPUT, "'%s' is not a valid %s", name,
                    individual ? "registration ID" : "enrollment group ID");
    if (device_id && (!individual || !hkc_device_id_valid(device_id)))
        return fail(EX_INPUT, "--device-id is for individual enrollments and must be a valid "
                              "device ID");
    if (!alloc)
        alloc = "hashed";
    if (strcmp(alloc, "hashed") != 0 && strcmp(alloc, "static") != 0)
        return fail(EX_INPUT, "--allocation must be hashed or static");
    if (!repro)
        repro = "migrate";
    if (strcmp(repro, "migrate") != 0 && strcmp(repro, "reset") != 0 &&
        strcmp(repro, "never") != 0)
        return fail(EX_INPUT, "--reprovision must be migrate, reset or never");
    if (!valid_json_object_arg(twin, "--initial-twin") ||
        !valid_json_object_arg(payload, "--payload"))
        return EX_INPUT;
    char *bundle = NULL;
    if (bundle_path && (rc = read_trust_bundle(bundle_path, &bundle)) != EX_OK)
        return rc;
    X509 *x = load_cert_arg(cert_path);
    if (!x) {
        free(bundle);
        return EX_INPUT;
    }
    if (!open_db(c, true)) {
        X509_free(x);
        free(bundle);
        return EX_STATE;
    }
    if (strcmp(alloc, "static") == 0) {
        if (!hubs || strchr(hubs, ','))
            rc = fail(EX_INPUT, "static allocation needs exactly one hub in --hubs");
    }
    if (!rc && hubs) {
        char *copy = hkc_strdup(hubs), *save = NULL;
        for (char *t = strtok_r(copy, ",", &save); t && !rc; t = strtok_r(NULL, ",", &save)) {
            json_t *h = hkc_db_row(c->db, "SELECT name FROM hubs WHERE name=? COLLATE NOCASE",
                                   "s", t);
            if (!h)
                rc = fail(EX_STATE, "no hub named %s (see hubkey-cloud hubs)", t);
            json_decref(h);
        }
        free(copy);
    }
    if (individual && !rc) {
        char *cn = hkc_pki_cn(x);
        if (!hkc_streq_nocase(cn, name))
            fprintf(stderr, "hubkey-cloud: note: certificate CN '%s' differs from '%s'; "
                            "DPS will refuse that device\n", cn ? cn : "", name);
        free(cn);
    }
    if (!individual && !rc && X509_check_ca(x) == 0)
        rc = fail(EX_INPUT, "%s is not a CA certificate", cert_path);
    if (rc) {
        X509_free(x);
        free(bundle);
        return rc;
    }
    /* Certificates after the first in the file are its issuers (a group CA's
     * or a device certificate's): they are uploaded as verified CAs so that
     * TLS can build the device's chain to a root. */
    size_t nc = 0;
    X509 **all = hkc_pki_read_certs(cert_path, &nc);
    for (size_t i = 1; i < nc; i++) {
        if (X509_check_ca(all[i]) == 0)
            continue;
        char s1[41], s2[65], ts[40];
        hkc_pki_thumbprints(all[i], s1, s2);
        hkc_time_utc(ts, sizeof(ts));
        char *p = hkc_pki_to_pem(all[i]);
        char *subject = hkc_pki_subject(all[i]);
        hkc_db_exec(c->db, "INSERT OR IGNORE INTO cas(sha256,subject,pem,created) "
                           "VALUES(?,?,?,?)", "ssss", s2, subject, p, ts);
        trust_add_pem(c, p);
        free(p);
        free(subject);
    }
    hkc_pki_free_certs(all, nc);
    /* Without a root above it, mosquitto's TLS layer refuses the device in
     * the handshake: say exactly which certificate is missing. */
    char *missing_ca = untrusted_issuer(c, x);
    if (missing_ca)
        fprintf(stderr,
                "hubkey-cloud: note: %s %s is signed by '%s', which this cloud does not "
                "trust: its devices will be refused in the TLS handshake. Upload that "
                "certificate and its issuers up to the root (hubkey-cloud ca add ISSUER.pem), "
                "or put them after the certificate in the --cert file.\n",
                individual ? "the certificate of" : "the CA of group", name, missing_ca);
    free(missing_ca);
    /* Registration IDs are case-insensitive: an individual enrollment added
     * again in another case replaces the one stored, under its stored name. */
    char *stored = NULL;
    if (individual) {
        json_t *row = hkc_db_row(c->db, "SELECT name FROM enrollments WHERE kind='individual' "
                                        "AND lower(name)=lower(?)",
                                 "s", name);
        stored = hkc_strdup(hkc_row_str(row, "name"));
        json_decref(row);
        if (stored)
            name = stored;
    }
    char sha1[41], sha256[65], now[40];
    hkc_pki_thumbprints(x, sha1, sha256);
    hkc_time_utc(now, sizeof(now));
    char *pem = hkc_pki_to_pem(x);
    X509_free(x);
    int n = hkc_db_exec(c->db,
                        "INSERT INTO enrollments(kind,name,cert_pem,sha1,sha256,device_id,enabled,"
                        "allocation,hubs,reprovision,initial_twin,payload,created,trust_bundle) "
                        "VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(kind,name) DO UPDATE SET "
                        "cert_pem=excluded.cert_pem,sha1=excluded.sha1,sha256=excluded.sha256,"
                        "device_id=excluded.device_id,enabled=excluded.enabled,"
                        "allocation=excluded.allocation,hubs=excluded.hubs,"
                        "reprovision=excluded.reprovision,initial_twin=excluded.initial_twin,"
                        "payload=excluded.payload,trust_bundle=excluded.trust_bundle",
                        "ssssssisssss" "ss", kind, name, pem, sha1, sha256, device_id,
                        (int64_t)(disabled ? 0 : 1), alloc, hubs, repro, twin, payload, now,
                        bundle);
    free(bundle);
    bool ok = n > 0 && trust_add_pem(c, pem);
    free(pem);
    if (!ok) {
        free(stored);
        return fail(EX_INPUT, "could not store the enrollment");
    }
    printf("enrollment %s %s %s (%s, %s, reprovision %s%s)\n", kind, name,
           stored ? "replaced" : "added", alloc, hubs ? hubs : "all hubs", repro,
           disabled ? ", disabled" : "");
    free(stored);
    return EX_OK;
}

static int cmd_enroll(struct cli *c)
{
    if (c->argc < 2)
        return fail(EX_USAGE, "usage: enroll group|individual add|list|enable|disable|remove ...");
    const char *kind = c->argv[0], *verb = c->argv[1];
    if (strcmp(kind, "group") != 0 && strcmp(kind, "individual") != 0)
        return fail(EX_USAGE, "enroll: '%s' is not group or individual", kind);
    c->argc -= 2;
    c->argv += 2;
    if (strcmp(verb, "add") == 0)
        return enroll_add(c, kind);
    if (strcmp(verb, "list") == 0) {
        static const char *const cols[] = {"name", "enabled", "allocation", "hubs",
                                           "reprovision", "device_id", "sha256", NULL};
        return list_query(c,
                          "SELECT name, enabled, allocation, hubs, reprovision, device_id, sha1, "
                          "sha256, initial_twin, payload, created FROM enrollments WHERE kind=? "
                          "ORDER BY name",
                          cols, "s", kind);
    }
    if (strcmp(verb, "enable") == 0 || strcmp(verb, "disable") == 0 ||
        strcmp(verb, "remove") == 0) {
        int rc = check_leftovers(c, 1);
        if (rc)
            return rc;
        if (c->argc < 1)
            return fail(EX_USAGE, "usage: enroll %s %s NAME", kind, verb);
        if (!open_db(c, true))
            return EX_STATE;
        /* Individual enrollments are named by registration ID, which is
         * case-insensitive; group names are matched exactly. */
        int n = strcmp(verb, "remove") == 0
                    ? hkc_db_exec(c->db,
                                  "DELETE FROM enrollments WHERE kind=?1 AND (name=?2 OR "
                                  "(kind='individual' AND lower(name)=lower(?2)))",
                                  "ss", kind, c->argv[0])
                    : hkc_db_exec(c->db,
                                  "UPDATE enrollments SET enabled=?1 WHERE kind=?2 AND (name=?3 OR "
                                  "(kind='individual' AND lower(name)=lower(?3)))",
                                  "iss", (int64_t)(strcmp(verb, "enable") == 0), kind,
                                  c->argv[0]);
        if (n <= 0)
            return fail(EX_STATE, "no %s enrollment named %s", kind, c->argv[0]);
        printf("enrollment %s %s: %s\n", kind, c->argv[0],
               strcmp(verb, "remove") == 0 ? "removed" : strcmp(verb, "enable") == 0 ? "enabled"
                                                                                     : "disabled");
        return EX_OK;
    }
    return fail(EX_USAGE, "enroll: unknown action '%s'", verb);
}

static int cmd_ca(struct cli *c)
{
    if (c->argc < 1)
        return fail(EX_USAGE, "usage: ca add FILE.pem | ca list [--json]");
    const char *verb = c->argv[0];
    c->argc--;
    c->argv++;
    if (strcmp(verb, "list") == 0) {
        static const char *const cols[] = {"subject", "sha256", "created", NULL};
        return list_query(c, "SELECT subject, sha256, created FROM cas ORDER BY created", cols,
                          NULL, NULL);
    }
    if (strcmp(verb, "add") != 0)
        return fail(EX_USAGE, "ca: unknown action '%s'", verb);
    int rc = check_leftovers(c, 1);
    if (rc)
        return rc;
    if (c->argc < 1)
        return fail(EX_USAGE, "usage: ca add FILE.pem");
    size_t n = 0;
    X509 **certs = hkc_pki_read_certs(c->argv[0], &n);
    if (n == 0) {
        hkc_pki_free_certs(certs, n);
        return fail(EX_INPUT, "%s: no PEM certificate found", c->argv[0]);
    }
    if (!open_db(c, true)) {
        hkc_pki_free_certs(certs, n);
        return EX_STATE;
    }
    for (size_t i = 0; i < n && !rc; i++) {
        if (X509_check_ca(certs[i]) == 0) {
            rc = fail(EX_INPUT, "%s: certificate %zu is not a CA", c->argv[0], i + 1);
            break;
        }
        char sha1[41], sha256[65], now[40];
        hkc_pki_thumbprints(certs[i], sha1, sha256);
        hkc_time_utc(now, sizeof(now));
        char *pem = hkc_pki_to_pem(certs[i]);
        char *subject = hkc_pki_subject(certs[i]);
        hkc_db_exec(c->db, "INSERT OR IGNORE INTO cas(sha256,subject,pem,created) VALUES(?,?,?,?)",
                    "ssss", sha256, subject, pem, now);
        trust_add_pem(c, pem);
        printf("CA %s added (verified on upload), SHA-256 %s\n", subject, sha256);
        free(pem);
        free(subject);
    }
    hkc_pki_free_certs(certs, n);
    return rc;
}

/* ------------------------------------------------------------------ hubs and devices */

/* Finds the hub of a device: the --hub given, or the only hub that has it. */
static char *resolve_hub(struct cli *c, const char *device_id, const char *hub, int *rc)
{
    char *out = NULL, *err = NULL;
    int r = hkc_act_resolve_hub(c->db, device_id, hub, &out, &err);
    if (r)
        *rc = fail(r, "%s", err);
    free(err);
    return out;
}

static int cmd_device(struct cli *c)
{
    if (c->argc < 2)
        return fail(EX_USAGE, "usage: device add|enable|disable|remove DEVICE_ID [options]");
    const char *verb = c->argv[0];
    c->argc--;
    c->argv++;
    bool missing = false;
    const char *hub = take_opt(c, "--hub", &missing);
    const char *cert_path = take_opt(c, "--cert", &missing);
    const char *thumb = take_opt(c, "--thumbprint", &missing);
    if (missing)
        return fail(EX_USAGE, "%s needs a value", c->missing_opt);
    int rc = check_leftovers(c, 1);
    if (rc)
        return rc;
    const char *id = c->argv[0];
    if (!hkc_device_id_valid(id))
        return fail(EX_INPUT, "'%s' is not a valid device ID", id);
    if (!open_db(c, true))
        return EX_STATE;
    if (strcmp(verb, "add") == 0) {
        if (!hub || (!cert_path == !thumb))
            return fail(EX_USAGE, "usage: device add DEVICE_ID --hub HUB (--cert FILE | "
                                  "--thumbprint SHA1_OR_SHA256_HEX)");
        json_t *h = hkc_db_row(c->db, "SELECT name FROM hubs WHERE name=? COLLATE NOCASE", "s", hub);
        if (!h)
            return fail(EX_STATE, "no hub named %s (see hubkey-cloud hubs)", hub);
        char *hub_name_s = hkc_strdup(hkc_row_str(h, "name"));
        json_decref(h);
        char sha1[41] = "", sha256[65] = "", now[40];
        char *pem = NULL;
        if (cert_path) {
            X509 *x = load_cert_arg(cert_path);
            if (!x) {
                free(hub_name_s);
                return EX_INPUT;
            }
            hkc_pki_thumbprints(x, sha1, sha256);
            pem = hkc_pki_to_pem(x);
            char *missing_ca = untrusted_issuer(c, x);
            if (missing_ca)
                fprintf(stderr, "hubkey-cloud: note: %s is signed by '%s', which this cloud "
                                "does not trust: upload it and its issuers up to the root "
                                "(hubkey-cloud ca add ISSUER.pem) or the TLS handshake fails\n",
                        cert_path, missing_ca);
            free(missing_ca);
            X509_free(x);
        } else {
            size_t l = strlen(thumb);
            bool hex = l == 40 || l == 64;
            for (size_t i = 0; hex && i < l; i++)
                hex = strchr("0123456789abcdefABCDEF", thumb[i]) != NULL;
            if (!hex) {
                free(hub_name_s);
                return fail(EX_INPUT, "--thumbprint must be 40 (SHA-1) or 64 (SHA-256) hex digits");
            }
            for (size_t i = 0; i < l; i++)
                (l == 40 ? sha1 : sha256)[i] = (char)((thumb[i] >= 'a' && thumb[i] <= 'f') ? thumb[i] - 32 : thumb[i]);
            (l == 40 ? sha1 : sha256)[l] = '\0';
        }
        hkc_time_utc(now, sizeof(now));
        int n = hkc_db_exec(c->db,
                            "INSERT INTO devices(hub,device_id,enabled,sha1,sha256,cert_pem,source,"
                            "created) VALUES(?,?,1,?,?,?,'cli',?)",
                            "ssssss", hub_name_s, id, sha1[0] ? sha1 : NULL,
                            sha256[0] ? sha256 : NULL, pem, now);
        if (n > 0 && pem)
            trust_add_pem(c, pem);
        free(pem);
        if (n <= 0) {
            free(hub_name_s);
            return fail(EX_STATE, "device %s already exists in %s", id, hub);
        }
        printf("device %s added to %s\n", id, hub_name_s);
        free(hub_name_s);
        return EX_OK;
    }
    if (strcmp(verb, "enable") != 0 && strcmp(verb, "disable") != 0 && strcmp(verb, "remove") != 0)
        return fail(EX_USAGE, "device: unknown action '%s'", verb);
    char *h = resolve_hub(c, id, hub, &rc);
    if (!h)
        return rc;
    if (strcmp(verb, "remove") == 0) {
        hkc_db_exec(c->db, "DELETE FROM devices WHERE hub=? AND device_id=?", "ss", h, id);
    } else {
        char *err = NULL;
        rc = hkc_act_device_enable(c->db, h, id, strcmp(verb, "enable") == 0, &err);
        if (rc) {
            fail(rc, "%s", err);
            free(err);
            free(h);
            return rc;
        }
    }
    printf("device %s in %s: %sd\n", id, h, verb);
    free(h);
    return EX_OK;
}

/* hub set NAME [--weight N] [--apply-allocation yes|no] */
static int cmd_hub(struct cli *c)
{
    if (c->argc < 2 || strcmp(c->argv[0], "set") != 0)
        return fail(EX_USAGE, "usage: hub set HUB [--weight 1..1000] [--apply-allocation yes|no]");
    c->argc--;
    c->argv++;
    bool missing = false;
    const char *weight_s = take_opt(c, "--weight", &missing);
    const char *apply_s = take_opt(c, "--apply-allocation", &missing);
    if (missing)
        return fail(EX_USAGE, "%s needs a value", c->missing_opt);
    int rc = check_leftovers(c, 1);
    if (rc)
        return rc;
    long weight = 0;
    if (weight_s && !parse_int(weight_s, 1, 1000, &weight))
        return fail(EX_INPUT, "--weight must be 1..1000");
    if (apply_s && strcmp(apply_s, "yes") != 0 && strcmp(apply_s, "no") != 0)
        return fail(EX_INPUT, "--apply-allocation must be yes or no");
    if (!open_db(c, true))
        return EX_STATE;
    json_t *h = hkc_db_row(c->db, "SELECT name FROM hubs WHERE name=? COLLATE NOCASE", "s",
                           c->argv[0]);
    if (!h)
        return fail(EX_STATE, "no hub named %s (see hubkey-cloud hubs)", c->argv[0]);
    if (weight)
        hkc_db_exec(c->db, "UPDATE hubs SET weight=? WHERE name=?", "is", (int64_t)weight,
                    hkc_row_str(h, "name"));
    if (apply_s)
        hkc_db_exec(c->db, "UPDATE hubs SET apply_allocation=? WHERE name=?", "is",
                    (int64_t)(strcmp(apply_s, "yes") == 0), hkc_row_str(h, "name"));
    printf("hub %s updated\n", hkc_row_str(h, "name"));
    json_decref(h);
    return EX_OK;
}

/* devices [--hub HUB] [--json]: a hub that does not exist is an error, not
 * an empty listing (a typo must not read as "no devices"). */
static int cmd_devices(struct cli *c)
{
    bool missing = false;
    const char *hub = take_opt(c, "--hub", &missing);
    if (missing)
        return fail(EX_USAGE, "--hub needs a value");
    if (hub) {
        if (!open_db(c, true))
            return EX_STATE;
        json_t *h = hkc_db_row(c->db, "SELECT name FROM hubs WHERE name=? COLLATE NOCASE", "s",
                               hub);
        bool known = h != NULL;
        json_decref(h);
        if (!known)
            return fail(EX_STATE, "no hub named %s (see hubkey-cloud hubs)", hub);
    }
    static const char *const cols[] = {"hub", "device_id", "enabled", "source", "sha256",
                                       "created", NULL};
    return list_query(c,
                      "SELECT hub, device_id, enabled, source, sha1, sha256, desired_version, "
                      "reported_version, created FROM devices WHERE (?1 IS NULL OR hub=?1 "
                      "COLLATE NOCASE) ORDER BY hub, device_id",
                      cols, "s", hub);
}

/* ------------------------------------------------------------------ telemetry */

static void print_telemetry_row(json_t *r, bool as_json)
{
    size_t blen = 0;
    const char *b64 = hkc_row_str(r, "body");
    uint8_t *body = b64 && *b64 ? hkc_base64_decode(b64, &blen) : NULL;
    json_t *text = body ? json_stringn((const char *)body, blen) : json_string("");
    if (as_json) {
        json_t *props = json_loads(hkc_row_str(r, "props") ? hkc_row_str(r, "props") : "{}", 0,
                                   NULL);
        json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:o,s:s}", "id", (json_int_t)hkc_row_int(r, "id"),
                              "time", hkc_row_str(r, "time"), "hub", hkc_row_str(r, "hub"),
                              "device_id", hkc_row_str(r, "device_id"), "properties",
                              props ? props : json_object(), "body_base64", b64 ? b64 : "");
        if (text)
            json_object_set(o, "body", text);
        char *s = json_dumps(o, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(o);
    } else {
        printf("%s  %s/%s  %s  %s\n", hkc_row_str(r, "time"), hkc_row_str(r, "hub"),
               hkc_row_str(r, "device_id"), hkc_row_str(r, "props"),
               text ? json_string_value(text) : "(binary)");
    }
    json_decref(text);
    free(body);
    fflush(stdout);
}

static volatile sig_atomic_t stop_follow;
static void on_signal(int sig)
{
    (void)sig;
    stop_follow = 1;
}

static int cmd_telemetry(struct cli *c)
{
    bool missing = false;
    bool as_json = take_flag(c, "--json");
    bool follow = take_flag(c, "--follow");
    const char *device = take_opt(c, "--device", &missing);
    const char *limit_s = take_opt(c, "--limit", &missing);
    if (missing)
        return fail(EX_USAGE, "%s needs a value", c->missing_opt);
    int rc = check_leftovers(c, 0);
    if (rc)
        return rc;
    if (follow) {
        /* Before anything is printed: Ctrl-C or SIGTERM ends the follow loop cleanly. */
        signal(SIGINT, on_signal);
        signal(SIGTERM, on_signal);
    }
    long limit = 100;
    if (limit_s && !parse_int(limit_s, 1, 1000000, &limit))
        return fail(EX_INPUT, "--limit must be a positive number");
    if (!open_db(c, true))
        return EX_STATE;
    json_t *rows = hkc_db_query(c->db,
                                "SELECT * FROM (SELECT * FROM telemetry WHERE (?1 IS NULL OR "
                                "device_id=?1) ORDER BY id DESC LIMIT ?2) ORDER BY id",
                                "si", device, (int64_t)limit);
    int64_t last = 0;
    if (as_json && !follow) {
        json_t *arr = json_array();
        size_t i;
        json_t *r;
        json_array_foreach(rows, i, r) {
            size_t blen = 0;
            const char *b64 = hkc_row_str(r, "body");
            uint8_t *body = b64 && *b64 ? hkc_base64_decode(b64, &blen) : NULL;
            json_t *props = json_loads(hkc_row_str(r, "props") ? hkc_row_str(r, "props") : "{}",
                                       0, NULL);
            json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:o,s:s}", "id",
                                  (json_int_t)hkc_row_int(r, "id"), "time", hkc_row_str(r, "time"),
                                  "hub", hkc_row_str(r, "hub"), "device_id",
                                  hkc_row_str(r, "device_id"), "properties",
                                  props ? props : json_object(), "body_base64", b64 ? b64 : "");
            json_t *text = body ? json_stringn((const char *)body, blen) : json_string("");
            if (text)
                json_object_set_new(o, "body", text);
            free(body);
            json_array_append_new(arr, o);
        }
        char *s = json_dumps(arr, JSON_COMPACT);
        printf("%s\n", s);
        free(s);
        json_decref(arr);
        json_decref(rows);
        return EX_OK;
    }
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r) {
        print_telemetry_row(r, as_json);
        last = hkc_row_int(r, "id");
    }
    json_decref(rows);
    if (!follow)
        return EX_OK;
    while (!stop_follow) {
        rows = hkc_db_query(c->db,
                            "SELECT * FROM telemetry WHERE id>?1 AND (?2 IS NULL OR device_id=?2) "
                            "ORDER BY id",
                            "is", last, device);
        json_array_foreach(rows, i, r) {
            print_telemetry_row(r, as_json);
            last = hkc_row_int(r, "id");
        }
        json_decref(rows);
        msleep(200);
    }
    return EX_OK;
}

/* ------------------------------------------------------------------ commands to devices */

static int cmd_c2d(struct cli *c)
{
    if (c->argc < 1 || strcmp(c->argv[0], "send") != 0)
        return fail(EX_USAGE, "usage: c2d send DEVICE_ID BODY [--hub HUB] [--prop NAME=VALUE]...");
    c->argc--;
    c->argv++;
    bool missing = false;
    const char *hub = take_opt(c, "--hub", &missing);
    json_t *props = json_object();
    const char *p;
    while ((p = take_opt(c, "--prop", &missing)) != NULL) {
        const char *eq = strchr(p, '=');
        if (!eq || eq == p) {
            json_decref(props);
            return fail(EX_INPUT, "--prop needs NAME=VALUE");
        }
        char *k = hkc_printf("%.*s", (int)(eq - p), p);
        json_object_set_new(props, k, json_string(eq + 1));
        free(k);
    }
    int rc = missing ? fail(EX_USAGE, "%s needs a value", c->missing_opt) : check_leftovers(c, 2);
    if (!rc && c->argc < 2)
        rc = fail(EX_USAGE, "usage: c2d send DEVICE_ID BODY [--hub HUB] [--prop NAME=VALUE]...");
    if (!rc && strlen(c->argv[1]) > HKC_C2D_MAX)
        rc = fail(EX_INPUT, "C2D messages are limited to 64 KB");
    if (!rc && !open_db(c, true))
        rc = EX_STATE;
    char *h = rc ? NULL : resolve_hub(c, c->argv[0], hub, &rc);
    if (h) {
        int64_t id = 0;
        char *err = NULL;
        rc = hkc_act_c2d_send(c->db, h, c->argv[0], c->argv[1], props, &id, &err);
        if (rc)
            fail(rc, "%s", err);
        else
            printf("C2D message %lld queued for %s in %s\n", (long long)id, c->argv[0], h);
        free(err);
    }
    free(h);
    json_decref(props);
    return rc;
}

static int cmd_twin(struct cli *c)
{
    if (c->argc < 2)
        return fail(EX_USAGE, "usage: twin show DEVICE_ID | twin set DEVICE_ID JSON [--hub HUB]");
    const char *verb = c->argv[0];
    c->argc--;
    c->argv++;
    bool missing = false;
    const char *hub = take_opt(c, "--hub", &missing);
    if (missing)
        return fail(EX_USAGE, "%s needs a value", c->missing_opt);
    bool set = strcmp(verb, "set") == 0;
    if (!set)
        (void)take_flag(c, "--json"); /* the twin is printed as JSON either way */
    if (!set && strcmp(verb, "show") != 0)
        return fail(EX_USAGE, "twin: unknown action '%s'", verb);
    int rc = check_leftovers(c, set ? 2 : 1);
    if (rc)
        return rc;
    if (set && c->argc < 2)
        return fail(EX_USAGE, "usage: twin set DEVICE_ID JSON");
    json_t *patch = NULL;
    if (set) {
        char *err = NULL;
        rc = hkc_act_twin_patch_parse(c->argv[1], &patch, &err);
        if (rc) {
            fail(rc, "twin set: %s", err);
            free(err);
            return rc;
        }
    }
    if (!open_db(c, true)) {
        json_decref(patch);
        return EX_STATE;
    }
    char *h = resolve_hub(c, c->argv[0], hub, &rc);
    if (!h) {
        json_decref(patch);
        return rc;
    }
    if (set) {
        int64_t version = 0;
        char *err = NULL;
        rc = hkc_act_twin_patch(c->db, h, c->argv[0], patch, &version, &err);
        if (rc)
            fail(rc, "%s", err);
        else
            printf("desired properties of %s set, $version %lld\n", c->argv[0],
                   (long long)version);
        free(err);
        free(h);
        json_decref(patch);
        return rc;
    } else {
        json_t *dev = hkc_db_row(c->db, "SELECT * FROM devices WHERE hub=? AND device_id=?", "ss",
                                 h, c->argv[0]);
        json_t *twin = json_pack("{s:s,s:s,s:o}", "device_id", c->argv[0], "hub", h,
                                 "properties", hkc_twin_doc(dev));
        char *s = json_dumps(twin, JSON_INDENT(2));
        printf("%s\n", s);
        free(s);
        json_decref(twin);
        json_decref(dev);
    }
    free(h);
    json_decref(patch);
    return EX_OK;
}

static int cmd_method(struct cli *c)
{
    if (c->argc < 1 || strcmp(c->argv[0], "invoke") != 0)
        return fail(EX_USAGE, "usage: method invoke DEVICE_ID METHOD [JSON] [--timeout S] [--hub HUB]");
    c->argc--;
    c->argv++;
    bool missing = false;
    const char *hub = take_opt(c, "--hub", &missing);
    const char *timeout_s = take_opt(c, "--timeout", &missing);
    (void)take_flag(c, "--json"); /* the answer is printed as JSON either way */
    if (missing)
        return fail(EX_USAGE, "%s needs a value", c->missing_opt);
    int rc = check_leftovers(c, 3);
    if (rc)
        return rc;
    if (c->argc < 2)
        return fail(EX_USAGE, "usage: method invoke DEVICE_ID METHOD [JSON] [--timeout S]");
    long timeout = 30;
    if (timeout_s && !parse_int(timeout_s, 1, 300, &timeout))
        return fail(EX_INPUT, "--timeout must be 1..300 seconds");
    const char *payload = c->argc > 2 ? c->argv[2] : "null";
    char *err = NULL;
    rc = hkc_act_method_check(c->argv[1], payload, &err);
    if (rc) {
        fail(rc, "%s", err);
        free(err);
        return rc;
    }
    if (!open_db(c, true))
        return EX_STATE;
    long pid;
    if (!running(c, &pid))
        return fail(EX_STATE, "hubkey-cloud is not running");
    char *h = resolve_hub(c, c->argv[0], hub, &rc);
    if (!h)
        return rc;
    int status = 0;
    char *resp = NULL;
    rc = hkc_act_method_invoke(c->db, h, c->argv[0], c->argv[1], payload, timeout, &status, &resp,
                               &err);
    free(h);
    if (rc) {
        fail(rc, "%s", err);
        free(err);
        return rc;
    }
    json_t *rj = *resp ? json_loads(resp, JSON_DECODE_ANY, NULL) : json_null();
    json_t *out = json_pack("{s:i,s:o}", "status", status, "payload", rj ? rj : json_string(resp));
    char *s = json_dumps(out, JSON_COMPACT);
    printf("%s\n", s);
    free(s);
    free(resp);
    json_decref(out);
    return status >= 200 && status < 300 ? EX_OK : EX_METHOD;
}

/* ------------------------------------------------------------------ settings */

struct knob {
    const char *name;
    const char *key;
    bool real;
    long lo, hi;
    const char *dflt; /* the plugin's value when the setting is not stored */
    const char *help;
};

static const struct knob knobs[] = {
    {"retry-after", "retry_after", false, 0, 300, "1", "seconds in the 202 answer's retry-after"},
    {"registration-rate", "registration_rate", false, 0, 1000000, "1000",
     "registrations per minute before 429 (0 = unlimited)"},
    {"poll-limit", "poll_limit", false, 1, 64, "5", "status polls per window per device"},
    {"poll-window-ms", "poll_window_ms", false, 1, 3600000, "10000", "poll limit window"},
    {"issued-cert-days", "issued_cert_days", false, 1, 3650, "365",
     "validity of CSR-issued certificates"},
    {"error-rate", "fault_error_rate", true, 0, 1, "0",
     "share 0..1 of DPS/twin requests answered 500"},
    {"delay-ms", "fault_delay_ms", false, 0, 600000, "0", "extra delay before DPS and twin answers"},
    {"drop", "fault_drop", false, 0, 0, "none",
     "drop the connection at: dps-connect dps-register dps-poll hub-connect hub-twin "
     "hub-telemetry, or none"},
};

static const struct knob *find_knob(const char *name, bool fault)
{
    for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
        bool is_fault = strncmp(knobs[i].key, "fault_", 6) == 0;
        if (is_fault == fault && strcmp(knobs[i].name, name) == 0)
            return &knobs[i];
    }
    return NULL;
}

static int cmd_settings(struct cli *c, bool fault)
{
    const char *group = fault ? "fault" : "config";
    if (c->argc < 1)
        return fail(EX_USAGE, "usage: %s set NAME VALUE | %s show [--json]%s", group, group,
                    fault ? " | fault clear" : "");
    const char *verb = c->argv[0];
    c->argc--;
    c->argv++;
    bool as_json = take_flag(c, "--json");
    int rc = check_leftovers(c, strcmp(verb, "set") == 0 ? 2 : 0);
    if (rc)
        return rc;
    if (!open_db(c, true))
        return EX_STATE;
    if (strcmp(verb, "set") == 0) {
        if (c->argc < 2)
            return fail(EX_USAGE, "usage: %s set NAME VALUE", group);
        const struct knob *k = find_knob(c->argv[0], fault);
        if (!k)
            return fail(EX_USAGE, "unknown %s setting '%s' (see %s show)", group, c->argv[0], group);
        const char *v = c->argv[1];
        if (strcmp(k->name, "drop") == 0) {
            static const char *const steps[] = {"dps-connect", "dps-register", "dps-poll",
                                                "hub-connect", "hub-twin", "hub-telemetry", "none"};
            bool ok = false;
            for (size_t i = 0; i < 7; i++)
                ok = ok || strcmp(steps[i], v) == 0;
            if (!ok)
                return fail(EX_INPUT, "drop step must be one of dps-connect dps-register dps-poll "
                                      "hub-connect hub-twin hub-telemetry none");
            hkc_db_set(c->db, k->key, strcmp(v, "none") == 0 ? NULL : v);
        } else if (k->real) {
            char *end;
            double d = strtod(v, &end);
            if (!*v || *end || d < (double)k->lo || d > (double)k->hi)
                return fail(EX_INPUT, "%s must be a number %ld..%ld", k->name, k->lo, k->hi);
            hkc_db_set(c->db, k->key, v);
        } else {
            long n;
            if (!parse_int(v, k->lo, k->hi, &n))
                return fail(EX_INPUT, "%s must be an integer %ld..%ld", k->name, k->lo, k->hi);
            hkc_db_set(c->db, k->key, v);
        }
        printf("%s %s = %s\n", group, k->name, v);
        return EX_OK;
    }
    if (fault && strcmp(verb, "clear") == 0) {
        hkc_db_exec(c->db, "DELETE FROM settings WHERE key LIKE 'fault\\_%' ESCAPE '\\'", NULL);
        printf("faults cleared\n");
        return EX_OK;
    }
    if (strcmp(verb, "show") != 0)
        return fail(EX_USAGE, "%s: unknown action '%s'", group, verb);
    json_t *arr = json_array();
    for (size_t i = 0; i < sizeof(knobs) / sizeof(knobs[0]); i++) {
        bool is_fault = strncmp(knobs[i].key, "fault_", 6) == 0;
        if (is_fault != fault)
            continue;
        char *v = hkc_db_setting(c->db, knobs[i].key);
        json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:b,s:s}", "name", knobs[i].name,
                                             "value", v ? v : knobs[i].dflt, "default",
                                             knobs[i].dflt, "set", v != NULL, "help",
                                             knobs[i].help));
        free(v);
    }
    static const char *const cols[] = {"name", "value", "default", "set", "help", NULL};
    print_rows(arr, as_json, cols);
    json_decref(arr);
    return EX_OK;
}

/* ------------------------------------------------------------------ help */

#define EXIT_CODES                                                                          \
    "Exit codes:\n"                                                                         \
    "  0  success\n"                                                                        \
    "  1  usage: unknown command or option, missing argument\n"                             \
    "  2  bad input: unreadable file, bad certificate, bad JSON, bad value\n"               \
    "  3  state: the cloud is not running or not initialised, or the named enrollment,\n"   \
    "     device or hub does not exist\n"                                                   \
    "  4  the broker could not be started or stopped\n"                                     \
    "  5  direct method: device offline, timed out or answered outside 200..299\n"

#define ENROLL_OPTIONS                                                                      \
    "  --hubs H1,H2          the hubs devices may be assigned to (default: all)\n"          \
    "  --allocation hashed|static   hashed over the hubs' weights (default), or the one\n"  \
    "                        hub of --hubs\n"                                               \
    "  --reprovision migrate|reset|never   what a re-registration does to the twin\n"      \
    "                        (default migrate)\n"                                           \
    "  --initial-twin JSON   the twin a new device starts with ({\"tags\":..,\n"            \
    "                        \"properties\":{\"desired\":..}})\n"                           \
    "  --payload JSON        returned to the device in its registration state\n"            \
    "  --trust-bundle CAS.pem   CA certificates returned to the device (up to 25)\n"       \
    "  --disabled            add it disabled\n"                                             \
    "An existing name is replaced (this is how an enrollment is changed).\n"

/* One entry per command, at every depth; an entry whose path is a prefix of
 * others is a group and lists them. */
static const cli_help_entry help_entries[] = {
    {"start", "start [--port N] [--hubs N] [--server-name NAME]...",
     "Creates the state on first use (server PKI, ID scope, hubs), starts the broker\n"
     "with the plugin and prints the endpoints. Already running: prints them again.\n\n"
     "  --port N              loopback port (default 8883, then the last one used)\n"
     "  --hubs N              hubs made on first use, 1..16 (default 2)\n"
     "  --server-name NAME    an extra DNS name for the server certificate, for this\n"
     "                        start (repeatable, up to 16)\n"},
    {"stop", "stop", "Stops the broker (the state is kept).\n"},
    {"status", "status [--json]",
     "Running or not, the endpoints and counts. Exit 3 when not running.\n\n"
     "  --json                one object: running, pid, port, id_scope, dps_host, hubs,\n"
     "                        server_ca, dir, enrollments, devices, registrations\n"},
    {"env", "env [--conf | --json]",
     "What the hubkey agent needs to reach this cloud: the ID scope, the DPS host,\n"
     "the loopback address and the server CA.\n\n"
     "  (default)             shell lines for eval \"$(hubkey-cloud env)\": HUBKEY_ID_SCOPE,\n"
     "                        HUBKEY_DPS, HUBKEY_CLOUD_ADDRESS, HUBKEY_TRUST\n"
     "  --conf                a configuration file for hubkey --config FILE\n"
     "  --json                one object: id_scope, dps, cloud_address, trust\n"},
    {"enroll", "enroll group|individual ACTION ...", NULL},
    {"enroll group", "enroll group add|list|enable|disable|remove ...", NULL},
    {"enroll group add", "enroll group add NAME --cert CA.pem [options]",
     "Adds the enrollment group NAME: devices whose certificate chains up to CA.pem\n"
     "(followed by its issuers in the same file, if any) may register.\n\n" ENROLL_OPTIONS},
    {"enroll group list", "enroll group list [--json]",
     "The enrollment groups (--json: an array).\n"},
    {"enroll group enable", "enroll group enable NAME", "Enables the enrollment group NAME.\n"},
    {"enroll group disable", "enroll group disable NAME",
     "Disables the enrollment group NAME: its devices are refused by DPS.\n"},
    {"enroll group remove", "enroll group remove NAME", "Removes the enrollment group NAME.\n"},
    {"enroll individual", "enroll individual add|list|enable|disable|remove ...", NULL},
    {"enroll individual add",
     "enroll individual add REG_ID --cert DEVICE.pem [--device-id ID] [options]",
     "Adds an individual enrollment for the device whose certificate is DEVICE.pem\n"
     "(CN = REG_ID).\n\n"
     "  --device-id ID        the device ID at the hub (default: the registration ID)\n"
     ENROLL_OPTIONS},
    {"enroll individual list", "enroll individual list [--json]",
     "The individual enrollments (--json: an array).\n"},
    {"enroll individual enable", "enroll individual enable REG_ID",
     "Enables the individual enrollment REG_ID.\n"},
    {"enroll individual disable", "enroll individual disable REG_ID",
     "Disables the individual enrollment REG_ID: DPS refuses the device.\n"},
    {"enroll individual remove", "enroll individual remove REG_ID",
     "Removes the individual enrollment REG_ID.\n"},
    {"ca", "ca add|list ...", NULL},
    {"ca add", "ca add FILE.pem",
     "Uploads the CA certificates in FILE.pem as verified (no proof of possession).\n"},
    {"ca list", "ca list [--json]", "The uploaded CA certificates (--json: an array).\n"},
    {"hubs", "hubs [--json]", "The hubs, their weights and allocation (--json: an array).\n"},
    {"hub", "hub set ...", NULL},
    {"hub set", "hub set HUB [--weight 1..1000] [--apply-allocation yes|no]",
     "Changes a hub's weight in hashed allocation, or takes it out of allocation.\n"},
    {"devices", "devices [--hub HUB] [--json]",
     "The device identities at the hubs (--json: an array).\n\n"
     "  --hub HUB             only this hub's (an unknown hub is an error, exit 3)\n"},
    {"device", "device add|enable|disable|remove ...", NULL},
    {"device add", "device add ID --hub HUB (--cert FILE | --thumbprint HEX)",
     "Creates a device identity at HUB directly (without DPS).\n\n"
     "  --cert FILE           the device certificate\n"
     "  --thumbprint HEX      its SHA-1 (40) or SHA-256 (64 hex digits) thumbprint\n"},
    {"device enable", "device enable ID [--hub HUB]", "Enables the device at its hub.\n"},
    {"device disable", "device disable ID [--hub HUB]",
     "Disables the device at its hub: the hub refuses it.\n"},
    {"device remove", "device remove ID [--hub HUB]", "Deletes the device identity.\n"},
    {"registrations", "registrations [--json]",
     "DPS registration records, with how many times each registered (--json: an\n"
     "array).\n"},
    {"telemetry", "telemetry [--follow] [--device ID] [--limit N] [--json]",
     "Device-to-cloud messages the hubs received, oldest first.\n\n"
     "  --follow              keep printing new messages until Ctrl-C\n"
     "  --device ID           only this device's\n"
     "  --limit N             the last N (default 100)\n"
     "  --json                an array; with --follow, JSON Lines (one object per\n"
     "                        message, flushed)\n"},
    {"c2d", "c2d send ...", NULL},
    {"c2d send", "c2d send DEVICE BODY [--hub HUB] [--prop NAME=VALUE]...",
     "Queues a cloud-to-device message (delivered when the device is subscribed).\n"},
    {"twin", "twin show|set ...", NULL},
    {"twin show", "twin show DEVICE [--hub HUB] [--json]",
     "The device twin: one JSON object (device_id, hub, properties).\n"},
    {"twin set", "twin set DEVICE JSON [--hub HUB]",
     "Merges JSON into the desired properties and sends the patch to the device.\n"},
    {"method", "method invoke ...", NULL},
    {"method invoke", "method invoke DEVICE NAME [JSON] [--timeout S] [--hub HUB] [--json]",
     "Calls a direct method and prints the answer as one JSON object (status,\n"
     "payload). Exit 5 when the device is offline, times out or answers outside\n"
     "200..299.\n\n"
     "  --timeout S           1..300 seconds (default 30)\n"},
    {"config", "config show|set ...", NULL},
    {"config show", "config show [--json]",
     "Every setting with the value in effect (its default when not set).\n"},
    {"config set", "config set NAME VALUE",
     "Changes a setting (names: hubkey-cloud config show).\n"},
    {"fault", "fault show|set|clear ...", NULL},
    {"fault show", "fault show [--json]", "The fault injection settings in effect.\n"},
    {"fault set", "fault set NAME VALUE",
     "Injects faults: error-rate 0..1, delay-ms N, drop STEP.\n"},
    {"fault clear", "fault clear", "Clears every fault setting.\n"},
    {"console", "console [--port N] [--read-only]",
     "Serves the web console on http://127.0.0.1:N/ until Ctrl-C: the fleet, each\n"
     "device's registration, twin, commands and live telemetry, and actions (C2D,\n"
     "direct methods, desired properties, enable/disable) through the same code as\n"
     "these commands. The link printed at start carries the token actions need.\n\n"
     "  --port N              default 8780; 0 picks a free port\n"
     "  --read-only           no token, every action refused\n"},
    {"help", "help [COMMAND...]", "This text, or a command's (same as COMMAND --help).\n"},
    {"version", "version", "Prints the version (same as --version).\n"},
};

#define N_HELP (sizeof(help_entries) / sizeof(help_entries[0]))

static const cli_help cloud_help = {"hubkey-cloud", "hubkey-cloud [--dir STATE]", help_entries,
                                     N_HELP, EXIT_CODES};

static void usage(FILE *f)
{
    fputs("usage: hubkey-cloud [--dir STATE] COMMAND ...\n"
          "       hubkey-cloud COMMAND... --help | --version\n\n",
          f);
    for (size_t i = 0; i < N_HELP; i++)
        if (help_entries[i].text)
            fprintf(f, "  %s\n", help_entries[i].usage);
    fputs("\nSTATE defaults to $HUBKEY_CLOUD_DIR, else ~/.hubkey-cloud.\n"
          "`hubkey-cloud COMMAND --help` explains a command and its options.\n\n" EXIT_CODES,
          f);
}

/* Help for the command named by words[0..n): the longest known prefix; a
 * group lists its commands. An unknown command is a usage error. */
static int help_words(char *const *words, int n)
{
    if (n == 0) {
        usage(stdout);
        return EX_OK;
    }
    char err[256];
    if (cli_help_words(&cloud_help, (const char *const *)words, n, err, sizeof(err)) != 0)
        return fail(EX_USAGE, "%s", err);
    return EX_OK;
}

/* The options of any command that take no value; every other --option takes one. */
static bool is_flag(const char *s)
{
    static const char *const flags[] = {"--json", "--follow", "--disabled", "--conf",
                                        "--help", "-h", "--version"};
    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
        if (strcmp(s, flags[i]) == 0)
            return true;
    return false;
}

/* `COMMAND... --help` anywhere on the line: help for the command words
 * (the arguments that are neither options nor option values). */
static int help_from_args(char *const *args, int n)
{
    char **words = calloc((size_t)n + 1, sizeof(*words));
    int nw = 0;
    if (!words)
        return EX_INPUT;
    for (int i = 0; i < n; i++) {
        if (strncmp(args[i], "-", 1) == 0) {
            if (!is_flag(args[i]) && strncmp(args[i], "--", 2) == 0)
                i++; /* its value */
            continue;
        }
        words[nw++] = args[i];
    }
    int rc = help_words(words, nw);
    free(words);
    return rc;
}

/* ------------------------------------------------------------------ main */

int main(int argc, char **argv)
{
    struct cli c = {0};
    c.argv = calloc((size_t)argc + 1, sizeof(char *));
    if (!c.argv)
        return EX_INPUT;
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--dir") == 0) {
            if (i + 1 >= argc)
                return fail(EX_USAGE, "--dir needs a directory");
            dir = argv[++i];
        } else {
            c.argv[c.argc++] = argv[i];
        }
    }
    if (c.argc == 0) {
        usage(stderr);
        free(c.argv);
        return EX_USAGE;
    }
    /* COMMAND... --help (anywhere on the line), or help COMMAND... */
    bool dash_help = false;
    for (int i = 0; i < c.argc && !dash_help; i++)
        dash_help = strcmp(c.argv[i], "--help") == 0 || strcmp(c.argv[i], "-h") == 0;
    if (dash_help || strcmp(c.argv[0], "help") == 0) {
        int word = dash_help ? 0 : 1;
        int rc = help_from_args(c.argv + word, c.argc - word);
        free(c.argv);
        return rc;
    }
    if (strcmp(c.argv[0], "--version") == 0 || strcmp(c.argv[0], "version") == 0) {
        printf("hubkey-cloud %s\n", HUBKEY_VERSION);
        free(c.argv);
        return EX_OK;
    }
    if (!dir)
        dir = getenv("HUBKEY_CLOUD_DIR");
    char *home_dir = NULL;
    if (!dir || !*dir) {
        const char *home = getenv("HOME");
        home_dir = hkc_printf("%s/.hubkey-cloud", home && *home ? home : ".");
        dir = home_dir;
    }
    char *real = realpath(dir, NULL);
    c.dir = real ? real : hkc_strdup(dir);
    if (c.dir[0] != '/') {
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof(cwd))) {
            char *abs = hkc_printf("%s/%s", cwd, c.dir);
            free(c.dir);
            c.dir = abs;
        }
    }
    /* The path is written into mosquitto.conf, one value per line. */
    if (strpbrk(c.dir, " \t\r\n")) {
        fail(EX_INPUT, "the state directory path must not contain whitespace: '%s'", c.dir);
        free(c.dir);
        free(home_dir);
        free(c.argv);
        return EX_INPUT;
    }
    c.db_path = path_in(&c, "cloud.db");
    const char *cmd = c.argv[0];
    char **base = c.argv;
    c.argc--;
    c.argv++;
    int rc;
    if (strcmp(cmd, "start") == 0)
        rc = cmd_start(&c);
    else if (strcmp(cmd, "stop") == 0)
        rc = cmd_stop(&c);
    else if (strcmp(cmd, "status") == 0)
        rc = cmd_status(&c);
    else if (strcmp(cmd, "env") == 0)
        rc = cmd_env(&c);
    else if (strcmp(cmd, "enroll") == 0)
        rc = cmd_enroll(&c);
    else if (strcmp(cmd, "ca") == 0)
        rc = cmd_ca(&c);
    else if (strcmp(cmd, "hub") == 0)
        rc = cmd_hub(&c);
    else if (strcmp(cmd, "hubs") == 0) {
        static const char *const cols[] = {"name", "weight", "apply_allocation", NULL};
        rc = list_query(&c, "SELECT name, weight, apply_allocation FROM hubs ORDER BY name", cols,
                        NULL, NULL);
    } else if (strcmp(cmd, "devices") == 0)
        rc = cmd_devices(&c);
    else if (strcmp(cmd, "device") == 0)
        rc = cmd_device(&c);
    else if (strcmp(cmd, "registrations") == 0) {
        static const char *const cols[] = {"reg_id", "status", "hub", "device_id", "substatus",
                                           "count", "enrollment_name", "updated", NULL};
        rc = list_query(&c,
                        "SELECT reg_id, status, substatus, hub, initial_hub, device_id, "
                        "enrollment_kind, enrollment_name, count, created, updated, etag, "
                        "error_code, error_message FROM registrations ORDER BY reg_id",
                        cols, NULL, NULL);
    } else if (strcmp(cmd, "telemetry") == 0)
        rc = cmd_telemetry(&c);
    else if (strcmp(cmd, "c2d") == 0)
        rc = cmd_c2d(&c);
    else if (strcmp(cmd, "twin") == 0)
        rc = cmd_twin(&c);
    else if (strcmp(cmd, "method") == 0)
        rc = cmd_method(&c);
    else if (strcmp(cmd, "config") == 0)
        rc = cmd_settings(&c, false);
    else if (strcmp(cmd, "fault") == 0)
        rc = cmd_settings(&c, true);
    else if (strcmp(cmd, "console") == 0) {
        struct hkc_console_options o;
        rc = hkc_console_parse(c.argc, c.argv, &o);
        if (!rc && !o.help)
            rc = open_db(&c, true) ? hkc_console_run(c.db_path, &o) : EX_STATE;
    }
    else {
        rc = fail(EX_USAGE, "unknown command '%s' (see hubkey-cloud --help)", cmd);
    }
    if (c.db)
        hkc_db_close(c.db);
    free(c.db_path);
    free(c.dir);
    free(home_dir);
    free(base);
    return rc;
}
