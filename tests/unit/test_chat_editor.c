#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "chat_editor.h"

/* Type every byte of keys; returns the action of the last one. */
static enum chat_editor_action type(struct chat_editor *editor, const char *keys)
{
        enum chat_editor_action action = CHAT_EDIT_NONE;

        for (size_t i = 0; keys[i]; i++)
                action = chat_editor_key(editor, (unsigned char)keys[i]);
        return action;
}

static void typed_characters_make_the_line_and_enter_submits_it(void **state)
{
        struct chat_editor editor = {0};

        (void)state;
        assert_int_equal(type(&editor, "hi all"), CHAT_EDIT_CHANGED);
        assert_string_equal(editor.text, "hi all");
        assert_int_equal(chat_editor_key(&editor, '\r'), CHAT_EDIT_SUBMIT);
        assert_int_equal(chat_editor_key(&editor, '\n'), CHAT_EDIT_SUBMIT);
        assert_string_equal(editor.text, "hi all");
        chat_editor_clear(&editor);
        assert_int_equal(editor.length, 0);
}

static void backspace_removes_a_whole_utf8_character(void **state)
{
        struct chat_editor editor = {0};

        (void)state;
        type(&editor, "a\xc3\xa9\xe2\x82\xac");
        assert_int_equal(chat_editor_columns(editor.text, editor.length), 3);
        assert_int_equal(chat_editor_key(&editor, 0x7f), CHAT_EDIT_CHANGED);
        assert_string_equal(editor.text, "a\xc3\xa9");
        assert_int_equal(chat_editor_key(&editor, 0x08), CHAT_EDIT_CHANGED);
        assert_string_equal(editor.text, "a");
        chat_editor_key(&editor, 0x7f);
        assert_int_equal(chat_editor_key(&editor, 0x7f), CHAT_EDIT_BELL);
}

static void ctrl_w_and_ctrl_u_erase_a_word_and_the_line(void **state)
{
        struct chat_editor editor = {0};

        (void)state;
        type(&editor, "one two  ");
        assert_int_equal(chat_editor_key(&editor, 0x17), CHAT_EDIT_CHANGED);
        assert_string_equal(editor.text, "one ");
        assert_int_equal(chat_editor_key(&editor, 0x15), CHAT_EDIT_CHANGED);
        assert_string_equal(editor.text, "");
}

static void ctrl_d_ends_only_an_empty_line(void **state)
{
        struct chat_editor editor = {0};

        (void)state;
        type(&editor, "x");
        assert_int_equal(chat_editor_key(&editor, 0x04), CHAT_EDIT_NONE);
        chat_editor_key(&editor, 0x7f);
        assert_int_equal(chat_editor_key(&editor, 0x04), CHAT_EDIT_END);
}

static void escape_sequences_and_controls_are_ignored(void **state)
{
        struct chat_editor editor = {0};

        (void)state;
        /* Left arrow, F5, Alt+x, a ^G, then text. */
        assert_int_equal(type(&editor, "\x1b[D\x1b[15~\x1bx\aok"), CHAT_EDIT_CHANGED);
        assert_string_equal(editor.text, "ok");
        assert_int_equal(type(&editor, "\x1bOA"), CHAT_EDIT_NONE);
        assert_string_equal(editor.text, "ok");
}

static void tab_is_kept_as_spaces_to_the_next_stop(void **state)
{
        struct chat_editor editor = {0};

        (void)state;
        assert_int_equal(type(&editor, "ab\tc"), CHAT_EDIT_CHANGED);
        assert_string_equal(editor.text, "ab      c");
        chat_editor_clear(&editor);
        /* Columns, not bytes: "é" is one column. */
        type(&editor, "\xc3\xa9\t\tx");
        assert_string_equal(editor.text, "\xc3\xa9"
                                         "               x");
        /* A tab near the end fills the line and no further. */
        chat_editor_clear(&editor);
        for (size_t i = 0; i < CHAT_EDITOR_MAX - 3; i++)
                chat_editor_key(&editor, 'a');
        assert_int_equal(chat_editor_key(&editor, '\t'), CHAT_EDIT_CHANGED);
        assert_int_equal(editor.length, CHAT_EDITOR_MAX);
        assert_int_equal(chat_editor_key(&editor, '\t'), CHAT_EDIT_BELL);
}

static void a_full_line_rings_the_bell(void **state)
{
        struct chat_editor editor = {0};

        (void)state;
        for (size_t i = 0; i < CHAT_EDITOR_MAX; i++)
                assert_int_equal(chat_editor_key(&editor, 'a'), CHAT_EDIT_CHANGED);
        assert_int_equal(chat_editor_key(&editor, 'a'), CHAT_EDIT_BELL);
        assert_int_equal(editor.length, CHAT_EDITOR_MAX);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
            cmocka_unit_test(typed_characters_make_the_line_and_enter_submits_it),
            cmocka_unit_test(backspace_removes_a_whole_utf8_character),
            cmocka_unit_test(ctrl_w_and_ctrl_u_erase_a_word_and_the_line),
            cmocka_unit_test(ctrl_d_ends_only_an_empty_line),
            cmocka_unit_test(escape_sequences_and_controls_are_ignored),
            cmocka_unit_test(tab_is_kept_as_spaces_to_the_next_stop),
            cmocka_unit_test(a_full_line_rings_the_bell),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
