/*
 * timestamp: a strict ISO 8601 reader. See timestamp.h.
 *
 * Written by hand rather than with strptime/timegm: those depend on the
 * process's locale and time zone and on GNU extensions, and neither reads
 * fractions or offsets. The day count is Howard Hinnant's days_from_civil,
 * exact for every Gregorian date.
 */
#include "timestamp.h"

#include <stddef.h>

typedef struct cursor {
    const char *text;
    size_t position;
} cursor;

/* Reads exactly `count` digits as a number; -1 when they are not there. */
static long read_digits(cursor *at, int count)
{
    long value = 0;
    for (int i = 0; i < count; i++) {
        char c = at->text[at->position];
        if (c < '0' || c > '9')
            return -1;
        value = value * 10 + (c - '0');
        at->position++;
    }
    return value;
}

static int accept_char(cursor *at, char expected)
{
    if (at->text[at->position] != expected)
        return 0;
    at->position++;
    return 1;
}

static int is_leap_year(long year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

static int days_in_month(long year, long month)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month == 2 && is_leap_year(year))
        return 29;
    return days[month - 1];
}

/* Days from 1970-01-01 to the given proleptic Gregorian date. */
static long long days_from_civil(long year, long month, long day)
{
    year -= month <= 2;
    long era = (year >= 0 ? year : year - 399) / 400;
    long year_of_era = year - era * 400;
    long day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    long day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return (long long)era * 146097 + day_of_era - 719468;
}

/* Reads ".fff..." (any number of digits); keeps microseconds. */
static long read_fraction(cursor *at)
{
    if (!accept_char(at, '.'))
        return 0;
    long microseconds = 0;
    int digits = 0;
    for (;;) {
        char c = at->text[at->position];
        if (c < '0' || c > '9')
            break;
        if (digits < 6)
            microseconds = microseconds * 10 + (c - '0');
        digits++;
        at->position++;
    }
    if (digits == 0)
        return -1;
    for (; digits < 6; digits++)
        microseconds *= 10;
    return microseconds;
}

/* Reads "Z", "+hh:mm", "-hhmm" or nothing (the shop's zone) into seconds
 * east of UTC. Returns 0 or -1. */
static int read_offset(cursor *at, long *offset_seconds)
{
    *offset_seconds = SIM_SHOP_UTC_OFFSET_SECONDS;
    if (at->text[at->position] == '\0')
        return 0;
    if (accept_char(at, 'Z')) {
        *offset_seconds = 0;
        return 0;
    }
    int sign = 0;
    if (accept_char(at, '+'))
        sign = 1;
    else if (accept_char(at, '-'))
        sign = -1;
    if (sign == 0)
        return -1;
    long hours = read_digits(at, 2);
    accept_char(at, ':');
    long minutes = read_digits(at, 2);
    if (hours < 0 || hours > 14 || minutes < 0 || minutes > 59)
        return -1;
    *offset_seconds = sign * (hours * 3600 + minutes * 60);
    return 0;
}

/* Reads "Thh:mm[:ss[.fff]]" into seconds of the day and microseconds. */
static int read_time_of_day(cursor *at, long *seconds, long *microseconds)
{
    *seconds = 0;
    *microseconds = 0;
    if (!accept_char(at, 'T'))
        return 0;
    long hour = read_digits(at, 2);
    long minute = accept_char(at, ':') ? read_digits(at, 2) : -1;
    long second = 0;
    if (accept_char(at, ':'))
        second = read_digits(at, 2);
    if (hour < 0 || hour > 23 || minute < 0 || minute > 59 || second < 0 || second > 59)
        return -1;
    *microseconds = read_fraction(at);
    if (*microseconds < 0)
        return -1;
    *seconds = hour * 3600 + minute * 60 + second;
    return 0;
}

int sim_timestamp_parse(const char *text, long long *microseconds)
{
    if (text == NULL)
        return -1;
    cursor at = {text, 0};
    long year = read_digits(&at, 4);
    long month = accept_char(&at, '-') ? read_digits(&at, 2) : -1;
    long day = accept_char(&at, '-') ? read_digits(&at, 2) : -1;
    if (year < 0 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month))
        return -1;
    long seconds_of_day = 0;
    long fraction = 0;
    long offset = 0;
    if (read_time_of_day(&at, &seconds_of_day, &fraction) != 0 || read_offset(&at, &offset) != 0)
        return -1;
    if (text[at.position] != '\0')
        return -1;
    long long seconds = days_from_civil(year, month, day) * 86400 + seconds_of_day - offset;
    *microseconds = seconds * 1000000 + fraction;
    return 0;
}
