/*
 * pages: HTML for the simulated accounts.haravan.com. See pages.h.
 *
 * Pages are built by appending to one buffer and checked once at the end
 * (an append that fails leaves the buffer as it was and every later append
 * is then checked too), which keeps the markup readable in the source.
 */
#include "pages.h"

#include <stdio.h>
#include <string.h>

int sim_html_escape(buffer *out, const char *text)
{
    for (const char *c = text; *c != '\0'; c++) {
        const char *reference = NULL;
        switch (*c) {
        case '&':
            reference = "&amp;";
            break;
        case '<':
            reference = "&lt;";
            break;
        case '>':
            reference = "&gt;";
            break;
        case '"':
            reference = "&quot;";
            break;
        case '\'':
            reference = "&#39;";
            break;
        default:
            break;
        }
        int result =
            reference != NULL ? buffer_append_string(out, reference) : buffer_append_char(out, *c);
        if (result != 0)
            return -1;
    }
    return buffer_append(out, "", 0);
}

/* Appends literal markup and escaped values in turn: text, value, text,
 * value, ..., NULL. Values at odd positions are escaped. */
static int append_parts(buffer *out, const char *const *parts)
{
    for (size_t i = 0; parts[i] != NULL; i++) {
        int result =
            i % 2 == 0 ? buffer_append_string(out, parts[i]) : sim_html_escape(out, parts[i]);
        if (result != 0)
            return -1;
    }
    return 0;
}

static int page_head(buffer *out, const char *title, const char *body_attributes)
{
    const char *const parts[] = {"<!doctype html>\n<html lang=\"vi\">\n<head>\n"
                                 "<meta charset=\"utf-8\">\n<title>",
                                 title, "</title>\n</head>\n<body", NULL};
    if (append_parts(out, parts) != 0 || buffer_append_string(out, body_attributes) != 0 ||
        buffer_append_string(out, ">\n") != 0)
        return -1;
    return 0;
}

static int page_end(buffer *out)
{
    return buffer_append_string(out, "</body>\n</html>\n");
}

static int hidden_fields(buffer *out, const sim_field *fields, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (fields[i].value == NULL)
            continue;
        const char *const parts[] = {"<input type=\"hidden\" name=\"",
                                     fields[i].name,
                                     "\" value=\"",
                                     fields[i].value,
                                     "\">\n",
                                     NULL};
        if (append_parts(out, parts) != 0)
            return -1;
    }
    return 0;
}

int sim_page_form_post(buffer *out, const char *action, const sim_field *fields, size_t count)
{
    const char *const form[] = {"<form method=\"post\" action=\"", action, "\">\n", NULL};
    if (page_head(out, "Đang chuyển về ứng dụng", " onload=\"document.forms[0].submit()\"") != 0 ||
        append_parts(out, form) != 0 || hidden_fields(out, fields, count) != 0 ||
        buffer_append_string(out, "<noscript>\n<p>Trình duyệt đang tắt JavaScript: bấm nút để "
                                  "quay về ứng dụng.</p>\n"
                                  "<button type=\"submit\">Tiếp tục</button>\n</noscript>\n"
                                  "</form>\n") != 0 ||
        page_end(out) != 0)
        return -1;
    return 0;
}

int sim_page_error(buffer *out, const char *title, const char *message)
{
    const char *const parts[] = {"<h1>", title, "</h1>\n<p>", message, "</p>\n", NULL};
    if (page_head(out, title, "") != 0 || append_parts(out, parts) != 0 || page_end(out) != 0)
        return -1;
    return 0;
}

/* ---- consent ------------------------------------------------------------ */

static const char *user_text(const cJSON *user, const char *name)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(user, name);
    return cJSON_IsString(value) ? value->valuestring : "";
}

static int user_option(buffer *out, const cJSON *user, int owner)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(user, "id");
    if (!cJSON_IsNumber(id))
        return 0;
    char id_text[32];
    snprintf(id_text, sizeof id_text, "%.0f", id->valuedouble);
    const char *const parts[] = {"<option value=\"",
                                 id_text,
                                 owner ? "\" selected>" : "\">",
                                 user_text(user, "first_name"),
                                 " ",
                                 user_text(user, "last_name"),
                                 " (",
                                 user_text(user, "email"),
                                 owner ? ") — chủ cửa hàng</option>\n" : ")</option>\n",
                                 NULL};
    return append_parts(out, parts);
}

/* The account owner first (and selected), then the others in seed order. */
static int staff_select(buffer *out, const cJSON *users)
{
    if (buffer_append_string(out, "<p><label>Đăng nhập bằng tài khoản nhân viên:\n"
                                  "<select name=\"user_id\">\n") != 0)
        return -1;
    for (int pass = 1; pass >= 0; pass--) {
        const cJSON *user = NULL;
        cJSON_ArrayForEach(user, users)
        {
            int owner = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(user, "account_owner"));
            if (owner == pass && user_option(out, user, owner) != 0)
                return -1;
        }
    }
    return buffer_append_string(out, "</select></label></p>\n");
}

static int scope_list(buffer *out, const char *scopes)
{
    if (buffer_append_string(out, "<p>Các quyền được yêu cầu:</p>\n<ul>\n") != 0)
        return -1;
    const char *cursor = scopes;
    while (*cursor != '\0') {
        size_t skip = strspn(cursor, " ");
        cursor += skip;
        size_t length = strcspn(cursor, " ");
        if (length == 0)
            break;
        char scope[256];
        snprintf(scope, sizeof scope, "%.*s", (int)(length < 255 ? length : 255), cursor);
        const char *const parts[] = {"<li><code>", scope, "</code></li>\n", NULL};
        if (append_parts(out, parts) != 0)
            return -1;
        cursor += length;
    }
    return buffer_append_string(out, "</ul>\n");
}

int sim_page_consent(buffer *out, const sim_consent *consent)
{
    const char *const heading[] = {
        "<h1>Ứng dụng “",   consent->app_name, "” muốn truy cập cửa hàng “",
        consent->shop_name, "”</h1>\n",        NULL};
    if (page_head(out, "Haravan: cấp quyền cho ứng dụng", "") != 0 ||
        append_parts(out, heading) != 0 || scope_list(out, consent->scopes) != 0 ||
        buffer_append_string(out, "<form method=\"post\" action=\"/connect/authorize\">\n") != 0 ||
        hidden_fields(out, consent->hidden, consent->hidden_count) != 0 ||
        staff_select(out, consent->users) != 0 ||
        buffer_append_string(out, "<p>\n<button name=\"decision\" value=\"allow\">Đồng ý</button>\n"
                                  "<button name=\"decision\" value=\"deny\">Từ chối</button>\n"
                                  "</p>\n</form>\n") != 0 ||
        page_end(out) != 0)
        return -1;
    return 0;
}

/* ---- developer portal --------------------------------------------------- */

static const char *app_text(const cJSON *object, const char *name)
{
    const cJSON *value = cJSON_GetObjectItemCaseSensitive(object, name);
    return cJSON_IsString(value) ? value->valuestring : "";
}

static int portal_app(buffer *out, const cJSON *app)
{
    const cJSON *webhook = cJSON_GetObjectItemCaseSensitive(app, "webhook");
    const char *const head[] = {"<section>\n<h2>",
                                app_text(app, "name"),
                                "</h2>\n<p>Client ID: <code>",
                                app_text(app, "client_id"),
                                "</code><br>Client Secret: <code>",
                                app_text(app, "client_secret"),
                                "</code></p>\n<p>Redirect URLs:</p>\n<ul>\n",
                                NULL};
    if (append_parts(out, head) != 0)
        return -1;
    const cJSON *uri = NULL;
    cJSON_ArrayForEach(uri, cJSON_GetObjectItemCaseSensitive(app, "redirect_uris"))
    {
        const char *const item[] = {"<li><code>", cJSON_IsString(uri) ? uri->valuestring : "",
                                    "</code></li>\n", NULL};
        if (append_parts(out, item) != 0)
            return -1;
    }
    const char *const form[] = {
        "</ul>\n<form method=\"post\" action=\"/sim/portal\">\n"
        "<input type=\"hidden\" name=\"client_id\" value=\"",
        app_text(app, "client_id"),
        "\">\n<p><label>Webhook Callback URL<br>"
        "<input name=\"callback_url\" size=\"60\" value=\"",
        app_text(webhook, "callback_url"),
        "\"></label></p>\n<p><label>Verify Token<br>"
        "<input name=\"verify_token\" size=\"60\" value=\"",
        app_text(webhook, "verify_token"),
        "\"></label></p>\n<button type=\"submit\">Lưu</button>\n</form>\n</section>\n",
        NULL};
    return append_parts(out, form);
}

int sim_page_portal(buffer *out, const cJSON *apps, const char *notice, const char *error)
{
    if (page_head(out, "Haravan Partner (mô phỏng): ứng dụng", "") != 0 ||
        buffer_append_string(out, "<h1>Ứng dụng của bạn</h1>\n") != 0)
        return -1;
    if (notice != NULL) {
        const char *const parts[] = {"<p role=\"status\">", notice, "</p>\n", NULL};
        if (append_parts(out, parts) != 0)
            return -1;
    }
    if (error != NULL) {
        const char *const parts[] = {"<p role=\"alert\">Không lưu được: ", error, "</p>\n", NULL};
        if (append_parts(out, parts) != 0)
            return -1;
    }
    if (cJSON_GetArraySize(apps) == 0 &&
        buffer_append_string(out, "<p>Chưa có ứng dụng nào.</p>\n") != 0)
        return -1;
    const cJSON *app = NULL;
    cJSON_ArrayForEach(app, apps)
    {
        if (portal_app(out, app) != 0)
            return -1;
    }
    return page_end(out);
}
