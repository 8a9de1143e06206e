/* The Linux I2C port without an adapter: wake-pulse sizing, errno mapping,
 * address parsing, and opening things that are not I2C adapters (refused,
 * no file descriptor left behind). */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "hk_i2c_linux.h"
#include "hk_test.h"

static void test_wake_len(void)
{
    HK_CHECK_EQ(hk_i2c_linux_wake_len(0), 1);       /* 100 kHz: the address byte is 80 us */
    HK_CHECK_EQ(hk_i2c_linux_wake_len(100000), 1);
    HK_CHECK_EQ(hk_i2c_linux_wake_len(133000), 1);  /* 8 bits = 60.2 us */
    HK_CHECK_EQ(hk_i2c_linux_wake_len(150000), 2);  /* 9 bits needed */
    HK_CHECK_EQ(hk_i2c_linux_wake_len(400000), 3);  /* 24 bits */
    HK_CHECK_EQ(hk_i2c_linux_wake_len(1000000), 8); /* 60 bits */
    HK_CHECK_EQ(hk_i2c_linux_wake_len(3400000), 8); /* capped */
}

static void test_errno(void)
{
    HK_CHECK_RESULT(hk_i2c_linux_errno_result(ENXIO), HK_ERR_SE_NO_RESPONSE);
    HK_CHECK_RESULT(hk_i2c_linux_errno_result(EREMOTEIO), HK_ERR_SE_NO_RESPONSE);
    HK_CHECK_RESULT(hk_i2c_linux_errno_result(EIO), HK_ERR_SE_NO_RESPONSE);
    HK_CHECK_RESULT(hk_i2c_linux_errno_result(EAGAIN), HK_ERR_SE_NO_RESPONSE);
    HK_CHECK_RESULT(hk_i2c_linux_errno_result(ETIMEDOUT), HK_ERR_SE_NO_RESPONSE);
    HK_CHECK_RESULT(hk_i2c_linux_errno_result(ENOTTY), HK_ERR_IO);
    HK_CHECK_RESULT(hk_i2c_linux_errno_result(EBADF), HK_ERR_IO);
    HK_CHECK_RESULT(hk_i2c_linux_errno_result(EOPNOTSUPP), HK_ERR_IO);
}

static void test_parse_address(void)
{
    uint8_t a = 0;
    HK_CHECK_RESULT(hk_i2c_linux_parse_address("0x60", &a), HK_OK);
    HK_CHECK_EQ(a, 0x60);
    HK_CHECK_RESULT(hk_i2c_linux_parse_address("0xC0", &a), HK_OK);
    HK_CHECK_EQ(a, 0x60);
    HK_CHECK_RESULT(hk_i2c_linux_parse_address("0x6A", &a), HK_OK);
    HK_CHECK_EQ(a, 0x6A);
    HK_CHECK_RESULT(hk_i2c_linux_parse_address("0xD8", &a), HK_OK);
    HK_CHECK_EQ(a, 0x6C);
    HK_CHECK_RESULT(hk_i2c_linux_parse_address("96", &a), HK_OK);
    HK_CHECK_EQ(a, 0x60);
    const char *bad[] = {"", "0xC1", "0x100", "-1", "0x60x", "x", "0x00", "0x78", "0x7F", " 0x60"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        a = 0x11;
        HK_CHECK_RESULT(hk_i2c_linux_parse_address(bad[i], &a), HK_ERR_MALFORMED);
        HK_CHECK_EQ(a, 0x11);
    }
    HK_CHECK_RESULT(hk_i2c_linux_parse_address(NULL, &a), HK_ERR_MALFORMED);
}

static int open_fds(void)
{
    int n = 0;
    for (int fd = 0; fd < 256; fd++)
        if (fcntl(fd, F_GETFD) != -1)
            n++;
    return n;
}

static void test_open_refused(void)
{
    hk_i2c_linux ctx;
    hk_i2c i2c;
    memset(&i2c, 0, sizeof i2c);
    int before = open_fds();
    HK_CHECK_RESULT(hk_i2c_linux_open(&ctx, "/dev/i2c-does-not-exist", 0, &i2c),
                    HK_ERR_NOT_FOUND);
    /* A character device that is not an I2C adapter. */
    HK_CHECK_RESULT(hk_i2c_linux_open(&ctx, "/dev/null", 0, &i2c), HK_ERR_IO);
    /* A directory. */
    HK_CHECK_RESULT(hk_i2c_linux_open(&ctx, "/", 0, &i2c), HK_ERR_IO);
    HK_CHECK_EQ(open_fds(), before);
    HK_CHECK(i2c.write == NULL);
    hk_i2c_linux_close(&ctx);
    hk_i2c_linux_close(&ctx);
    HK_CHECK_RESULT(hk_i2c_linux_open(NULL, "/dev/null", 0, &i2c), HK_ERR_INVALID_ARG);
}

int main(void)
{
    HK_RUN(test_wake_len);
    HK_RUN(test_errno);
    HK_RUN(test_parse_address);
    HK_RUN(test_open_refused);
    return hk_test_finish("i2c_linux");
}
