#include "chat_editor.h"

#include <string.h>

#define KEY_CTRL(letter) ((letter)&0x1f)

static bool is_continuation(unsigned char byte)
{
        return (byte & 0xc0) == 0x80;
}

/* Drop the last character: its continuation bytes, then its first byte. */
static void erase_character(struct chat_editor *editor)
{
        while (editor->length > 0 &&
               is_continuation((unsigned char)editor->text[editor->length - 1]))
                editor->length--;
        if (editor->length > 0)
                editor->length--;
        editor->text[editor->length] = '\0';
}

static void erase_word(struct chat_editor *editor)
{
        while (editor->length > 0 && editor->text[editor->length - 1] == ' ')
                editor->length--;
        while (editor->length > 0 && editor->text[editor->length - 1] != ' ')
                editor->length--;
        editor->text[editor->length] = '\0';
}

/* A byte inside an escape sequence: swallowed, and the sequence may end with it. */
static void continue_escape(struct chat_editor *editor, unsigned char byte)
{
        if (editor->escape == 1) {
                /* ESC [ and ESC O start a sequence; ESC and any other byte is Alt+key. */
                editor->escape = byte == '[' || byte == 'O' ? 2 : 0;
                return;
        }
        /* CSI: parameters and intermediates, then a final byte from @ to ~. */
        if (byte >= 0x40 && byte <= 0x7e)
                editor->escape = 0;
}

/*
 * TAB: the server refuses control characters in a message, so a tab is kept
 * as the spaces up to the next multiple of 8 columns, as a terminal shows it.
 */
static enum chat_editor_action insert_tab(struct chat_editor *editor)
{
        size_t spaces = 8 - chat_editor_columns(editor->text, editor->length) % 8;

        if (editor->length >= CHAT_EDITOR_MAX)
                return CHAT_EDIT_BELL;
        while (spaces-- > 0 && editor->length < CHAT_EDITOR_MAX)
                editor->text[editor->length++] = ' ';
        editor->text[editor->length] = '\0';
        return CHAT_EDIT_CHANGED;
}

enum chat_editor_action chat_editor_key(struct chat_editor *editor, unsigned char byte)
{
        if (editor->escape) {
                continue_escape(editor, byte);
                return CHAT_EDIT_NONE;
        }
        switch (byte) {
        case '\r':
        case '\n':
                return CHAT_EDIT_SUBMIT;
        case 0x7f:
        case KEY_CTRL('H'):
                if (editor->length == 0)
                        return CHAT_EDIT_BELL;
                erase_character(editor);
                return CHAT_EDIT_CHANGED;
        case KEY_CTRL('W'):
                erase_word(editor);
                return CHAT_EDIT_CHANGED;
        case KEY_CTRL('U'):
                chat_editor_clear(editor);
                return CHAT_EDIT_CHANGED;
        case KEY_CTRL('D'):
                return editor->length == 0 ? CHAT_EDIT_END : CHAT_EDIT_NONE;
        case KEY_CTRL('L'):
                return CHAT_EDIT_CHANGED;
        case 0x1b:
                editor->escape = 1;
                return CHAT_EDIT_NONE;
        case '\t':
                return insert_tab(editor);
        default:
                break;
        }
        /* Other controls: the server would refuse the line for them. */
        if (byte < 0x20)
                return CHAT_EDIT_NONE;
        if (editor->length >= CHAT_EDITOR_MAX)
                return CHAT_EDIT_BELL;
        editor->text[editor->length++] = (char)byte;
        editor->text[editor->length] = '\0';
        return CHAT_EDIT_CHANGED;
}

void chat_editor_clear(struct chat_editor *editor)
{
        editor->length = 0;
        editor->text[0] = '\0';
}

size_t chat_editor_columns(const char *text, size_t length)
{
        size_t columns = 0;

        for (size_t i = 0; i < length; i++)
                if (!is_continuation((unsigned char)text[i]))
                        columns++;
        return columns;
}
