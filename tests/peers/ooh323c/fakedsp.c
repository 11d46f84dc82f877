/* An OSS /dev/dsp for ooh323c's `simple` where there is no sound card (LD_PRELOAD).
 * Its media plugin opens /dev/dsp read-write once: reads are its microphone, writes
 * its speaker. With OOH323_MIC set, that open gets the file or FIFO OOH323_MIC names
 * (16-bit 8 kHz mono PCM, which a test writes in real time), and whatever it writes to
 * that descriptor (what it plays: the MCU's audio, decoded) is appended to
 * OOH323_SPEAKER instead. Everything else passes through. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static int dsp_fd = -1;
static int speaker_fd = -1;

int open(const char *path, int flags, ...) {
    static int (*real_open)(const char *, int, ...);
    mode_t mode = 0;
    if (!real_open) real_open = dlsym(RTLD_NEXT, "open");
    if (flags & O_CREAT) {
        va_list args;
        va_start(args, flags);
        mode = (mode_t)va_arg(args, int);
        va_end(args);
    }
    if (path && strcmp(path, "/dev/dsp") == 0 && getenv("OOH323_MIC")) {
        const char *speaker = getenv("OOH323_SPEAKER");
        dsp_fd = real_open(getenv("OOH323_MIC"), O_RDONLY);
        if (speaker) speaker_fd = real_open(speaker, O_WRONLY | O_CREAT | O_APPEND, 0644);
        return dsp_fd;
    }
    return real_open(path, flags, mode);
}

ssize_t write(int fd, const void *buf, size_t count) {
    static ssize_t (*real_write)(int, const void *, size_t);
    if (!real_write) real_write = dlsym(RTLD_NEXT, "write");
    if (fd >= 0 && fd == dsp_fd) {
        if (speaker_fd >= 0) return real_write(speaker_fd, buf, count);
        return (ssize_t)count;
    }
    return real_write(fd, buf, count);
}
