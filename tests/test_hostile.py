"""The catalogue of hostile cases: each break found by probing the project as an attacker would, and the
test that holds its fix.

The tests themselves live next to what they exercise (a loopback server pair for credentials, a real
tmpfs for full disks, subprocesses for crashes); this file keeps the list in one place for a security
reviewer (docs/security.md states the promises) and fails when a listed test disappears or is renamed.
"""

from __future__ import annotations

import importlib

import pytest

#: case (as reported) → "module::test" holding it
CASES: dict[str, str] = {
    "summary --history wrote .history into the data folder": "test_cache_location::test_read_commands_leave_the_data_tree_as_it_was",
    "a link at the history cache folder": "test_cache_location::test_a_link_at_the_cache_folder_is_not_followed",
    "fetch archive imported .history/manifest.json as a project": "test_store_reader::test_archive_import_from_a_folder_takes_only_the_real_projects",
    "fetch discourse followed a 302 to another host with Api-Key": "test_fetch_origins::test_discourse_more_topics_url_and_redirect_to_another_origin",
    "fetch github followed Link rel=next to another host with the token": "test_fetch_origins::test_github_link_next_and_redirect_to_another_origin",
    "thinklab login followed a redirect elsewhere": "test_fetch_origins::test_thinklab_redirect_to_another_origin",
    "--base-url with user:password repeated the password": "test_fetch_sync::test_a_url_with_credentials_is_refused_without_echoing_them",
    "a symlinked lock, manifest or project folder was written through": "test_hostile_store::test_a_link_anywhere_in_the_store_is_refused_and_nothing_is_written_outside",
    "a link planted after the checks": "test_hostile_store::test_a_link_made_after_the_checks_is_still_not_followed",
    "symlinked folders skipped silently, symlinked files followed": "test_hostile_store::test_a_scan_skips_linked_files_and_folders_alike_and_names_each",
    "a read-only data folder gave a traceback": "test_hostile_store::test_read_only_store_is_one_line_and_untouched",
    "a full disk left 1,282 temporary files and went on": "test_hostile_store::test_full_disk_stops_at_the_first_failure_and_leaves_no_temporary_files",
    "a manifest line cut by a full disk": "test_hostile_store::test_a_manifest_line_cut_short_by_a_full_disk_is_taken_back",
    "--repo in another case stored two projects": "test_hostile_store::test_fetch_github_in_another_case_is_one_project",
    "an IPv6 --base-url was refused": "test_hostile_store::test_ipv6_base_urls_work_and_make_safe_folder_names",
    "a control character in a name aborted vl-convert": "test_hostile_names::test_figures_survive_control_characters_and_huge_names",
    "a 100,000-character name drew an 855,504 px chart": "test_hostile_names::test_figures_survive_control_characters_and_huge_names",
    "an emoji cut in half by Vega failed the figure": "test_hostile_names::test_emoji_labels_are_cut_between_graphemes",
    "render waited forever for a dead kernel": "test_render_errors::test_dead_kernel_ends_the_render",
    "render was deaf to SIGTERM": "test_render_errors::test_sigterm_stops_the_render_and_its_kernel",
    "a cell past its time limit": "test_render_errors::test_timeout_stops_the_kernel",
    "a 6.3 MB gzip expanding to 6 GiB": "test_hostile_input::test_six_gib_bomb_is_one_line_at_the_default_limit",
    "rich markup and ESC sequences in names and paths": "test_hostile_names::test_project_names_are_printed_inert",
    "a non-numeric views value dropped silently": "test_hostile_input::test_odd_views_are_warned_about_and_nothing_else_changes",
    "a file name with a space stopped a folder import": "test_hostile_input::test_folder_import_with_odd_names",
    "100,000 nested elements took 28 s": "test_hostile_names::test_deeply_nested_post_is_bounded_and_named",
    "an endless or gzip-bomb HTTP body was read whole into memory": "test_hostile_http::test_a_body_over_the_limit_is_refused_without_reading_it_all",
    "a 5,000-digit number in an export ended in a traceback": "test_hostile_input::test_a_5000_digit_number_is_one_line",
    "JSON nested 10**6 deep ended in a RecursionError": "test_hostile_input::test_json_nested_a_million_deep_is_one_line",
    "Discourse /latest.json answering {} or [1,2], a topic without id, a post without post_number": "test_fetch_malformed::test_a_malformed_discourse_response_is_one_line",
    "a GitHub issue without id ended in a KeyError": "test_fetch_malformed::test_a_github_issue_without_id_is_one_line",
    "identities YAML nested 10**5 deep, or an alias tree": "test_identities::test_hostile_identities_yaml_is_one_line",
    "names starting with = + @ - written into CSVs as spreadsheet formulas": "test_outputs::test_formulas_are_neutralised_and_numbers_are_not",
    "a read-only archive folder got a .history cache written into it": "test_history::test_read_only_folder_is_never_written",
    "a server sending one byte every 3 s kept a fetch (and the store's lock) for ever": "test_hostile_http::test_a_stalled_fetch_ends_with_one_line_and_releases_the_lock",
    "--max-time did not bound reading": "test_hostile_http::test_a_trickling_server_ends_at_max_time",
    "a redirect loop reported as '…/data: cannot write'": "test_hostile_http::test_a_redirect_loop_is_a_network_error_not_a_data_folder_problem",
    "--team-file or --identities as a FIFO hung, as /dev/zero filled memory": "test_hostile_files::test_a_special_file_as_team_or_identities_file_is_one_line",
    "a FIFO given as an export": "test_hostile_files::test_a_fifo_as_an_export_is_one_line",
    "exports/manifest.jsonl as a FIFO hung fetch": "test_hostile_files::test_a_fifo_as_the_store_manifest_is_one_line",
    "the history cache's manifest.json as a FIFO hung summary --history": "test_hostile_files::test_a_fifo_as_the_history_cache_manifest_is_rebuilt",
    "-P 'title:x #set' cut at # and -P 'title:#…' became the default title": "test_hostile_input::test_text_parameters_are_taken_literally",
    "-P team: YAML alias tree of 9**8 strings (17 s, 1.2 GB)": "test_hostile_input::test_yaml_parameters_have_bounded_cost_and_no_silent_cuts",
    "an empty HOME put the cache in /.cache": "test_cache_location::test_an_empty_or_odd_home_never_puts_the_cache_at_the_root",
    "duplicate JSON keys: polars counted 0 notes where Python's json reads 1": "test_hostile_input::test_duplicate_table_keys_are_refused_with_the_key_named",
    "negative views summed without a word": "test_hostile_input::test_one_odd_view_among_integers",
    "a hand-edited history cache trusted (views x1,000 reported)": "test_hostile_files::test_a_hand_edited_history_cache_is_rebuilt_not_trusted",
    "a snapshot edited with its size and mtime kept never re-read": "test_hostile_files::test_a_snapshot_edited_with_its_size_and_time_kept_is_read_again",
    "two store folders differing only in case counted twice": "test_hostile_store::test_two_store_folders_in_two_cases_are_read_as_one_project",
    "a bomb just past the 2 GiB cap peaked at 4.1 GB": "test_hostile_input::test_a_bomb_just_past_the_limit_peaks_near_the_limit_not_twice",
    "a newline in a project name broke the table into fake rows": "test_hostile_names::test_project_names_are_printed_inert",
    "identities suggest printed U+202E raw": "test_hostile_names::test_identities_suggest_shows_bidi_and_line_feeds_escaped",
    "a file or folder name that is not UTF-8 (UnicodeEncodeError)": "test_hostile_names::test_names_that_are_not_utf8_are_one_line_or_skipped_with_a_warning",
    "figures --out on a full or read-only disk (OSError, 17 figures left)": "test_hostile_files::test_figures_on_a_full_disk_is_one_line_and_leaves_no_new_files",
    "a full disk under the history cache left partial files for ever": "test_hostile_files::test_a_full_disk_under_the_history_cache_leaves_no_partial_files",
    "one <p> with N distinct attributes grew with N² (200k: 87 s)": "test_hostile_names::test_a_tag_of_many_attributes_costs_linear_time_and_is_named",
    "a name of one letter and 200,000 combining marks took figures 299 s": "test_hostile_names::test_a_name_of_200000_combining_marks_is_bounded_before_layout",
    "summary --history on 10,000 tiny exports took 152 s (plain summary 8.5 s)": "test_history_stacked::test_rows_the_dataset_read_are_taken_not_read_again",
    "a NaN or 1e400 id said 'unexpected shape'": "test_hostile_input::test_a_nan_or_infinite_id_names_the_value_and_where",
}


@pytest.mark.parametrize(("case", "where"), list(CASES.items()), ids=list(CASES))
def test_every_case_has_its_test(case: str, where: str) -> None:
    module_name, test_name = where.split("::")
    module = importlib.import_module(f"tests.{module_name}")
    assert callable(getattr(module, test_name, None)), f"{case}: {where} is gone"
