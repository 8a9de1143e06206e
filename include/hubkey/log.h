/*
 * hubkey — logging macros that compile to nothing by default.
 *
 * Define HK_LOG_LEVEL (0 none, 1 error, 2 warn, 3 info, 4 debug) and provide
 * hk_log_write() (one function, in the port or the application) to get
 * output. Never log key material or full certificates: log names, sizes,
 * results.
 */
#ifndef HUBKEY_LOG_H
#define HUBKEY_LOG_H

#ifndef HK_LOG_LEVEL
#define HK_LOG_LEVEL 0
#endif

#if HK_LOG_LEVEL > 0
void hk_log_write(int level, const char *module, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#define HK_LOG_(lvl, mod, ...)                          \
    do {                                                \
        if ((lvl) <= HK_LOG_LEVEL)                      \
            hk_log_write((lvl), (mod), __VA_ARGS__);    \
    } while (0)
#else
#define HK_LOG_(lvl, mod, ...) \
    do {                       \
    } while (0)
#endif

#define HK_LOGE(mod, ...) HK_LOG_(1, mod, __VA_ARGS__)
#define HK_LOGW(mod, ...) HK_LOG_(2, mod, __VA_ARGS__)
#define HK_LOGI(mod, ...) HK_LOG_(3, mod, __VA_ARGS__)
#define HK_LOGD(mod, ...) HK_LOG_(4, mod, __VA_ARGS__)

#endif /* HUBKEY_LOG_H */
